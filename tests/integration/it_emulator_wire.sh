#!/usr/bin/env bash
# timeout: 180
# it_emulator_wire.sh - wire-format guard: calls every endpoint listed in
# tests/fixtures/emulator/required_fields.json on a running emulator and checks that each
# required field is present with the right JSON type (and required headers are sent), so
# the emulator cannot drift from the real API's shapes.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

FIX="$SLUICE_SRC/tests/fixtures/emulator/required_fields.json"
emu_start emu --genie-latency 0 --genie-rate 0 --chunk-rows 10 --statement-latency 10ms \
  --client-id wire-client --client-secret wire-secret

sql_ok "CREATE VOLUME main.default.wire"
printf 'a,b\n1,2\n' > "$T/a.csv"
curl -sf -X PUT -H "$AUTH" --data-binary "@$T/a.csv" "$EMU_URL/api/2.0/fs/files/Volumes/main/default/wire/a.csv" -o /dev/null

declare -A V=([warehouse_id]=emu0000000000001 [space_id]=5a1e5000000000000000000000000001)
subst() {
  local s=$1 k
  for k in "${!V[@]}"; do s=${s//\{$k\}/${V[$k]}}; done
  printf '%s' "$s"
}
jq_path() { # a.b[].c -> .a.b[].c
  local out="" seg
  IFS=. read -ra segs <<<"$1"
  for seg in "${segs[@]}"; do out+=".${seg%\[\]}"; [[ "$seg" == *"[]" ]] && out+="[]"; done
  printf '%s' "$out"
}
type_test() {
  case $1 in
    integer) echo '(type == "number" and . == floor)' ;;
    *) echo "(type == \"$1\")" ;;
  esac
}

n=$(jq '.endpoints | length' "$FIX")
checked=0
for ((i = 0; i < n; i++)); do
  e=$(jq -c ".endpoints[$i]" "$FIX")
  name=$(jq -r .name <<<"$e"); method=$(jq -r .method <<<"$e")
  path=$(subst "$(jq -r .path <<<"$e")"); want=$(jq -r '.status // empty' <<<"$e")
  auth=$(jq -r '.auth // "pat"' <<<"$e")
  args=(-s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$method")
  [ "$method" == HEAD ] && args=(-s -I -o "$T/hdr" -w '%{http_code}')
  case $auth in
    pat) args+=(-H "$AUTH") ;;
    basic) args+=(-u wire-client:wire-secret) ;;
  esac
  if jq -e 'has("form")' <<<"$e" >/dev/null; then
    args+=(--data "$(jq -r .form <<<"$e")")
  elif jq -e 'has("body")' <<<"$e" >/dev/null; then
    args+=(-H 'Content-Type: application/json' --data-binary "$(subst "$(jq -c .body <<<"$e")")")
  fi
  CODE=$(curl "${args[@]}" "$EMU_URL$path")
  if [ -n "$want" ]; then
    [ "$CODE" == "$want" ] || it_fail "$name: HTTP $CODE, want $want"
  else
    [[ "$CODE" == 2?? ]] || { cat "$T/body" >&2; it_fail "$name: HTTP $CODE"; }
  fi
  for h in $(jq -r '.headers // [] | .[]' <<<"$e"); do
    grep -qi "^$h: " "$T/hdr" || it_fail "$name: header $h missing"
    checked=$((checked + 1))
  done
  sel=$(jq -r '.select // "."' <<<"$e")
  while IFS=$'\t' read -r field type; do
    [ -n "$field" ] || continue
    filter="[ $sel | $(jq_path "$field") ] | (length > 0) and all($(type_test "$type"))"
    jq -e "$filter" "$T/body" >/dev/null 2>&1 || {
      cat "$T/body" >&2; echo >&2
      it_fail "$name: field '$field' missing or not $type"
    }
    checked=$((checked + 1))
  done < <(jq -r '.fields | to_entries[] | "\(.key)\t\(.value)"' <<<"$e")
  case $name in
    "execute statement") V[statement_id]=$(jb .statement_id) ;;
    "start conversation") V[conversation_id]=$(jb .conversation_id) ;;
    "create message")
      V[message_id]=$(jb .message_id)
      V[attachment_id]=$(jb '.attachments[] | select(.query) | .attachment_id') ;;
    "create experiment") V[experiment_id]=$(jb .experiment_id) ;;
    "create run") V[run_id]=$(jb .run.info.run_id) ;;
  esac
done
echo "it_emulator_wire: $n endpoints, $checked fields and headers checked"
[ "$checked" -gt 150 ] || it_fail "too few checks ($checked)"
emu_stop_all
echo "it_emulator_wire: ok"
