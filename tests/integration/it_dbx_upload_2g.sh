#!/usr/bin/env bash
# timeout: 180
# it_dbx_upload_2g.sh - `sluice dbx files put` streams a 2 GiB file (sparse, made here with
# truncate) to the emulator with the uploading process's peak RSS under 64 MiB, and the
# emulator stores every byte: the Files metadata (HEAD) size, the emulator's upload
# counter and the stored file all say 2147483648.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"
for v in $(env | grep -oE '^(DATABRICKS_[A-Z_]+|MAX_RETRIES|INITIAL_BACKOFF|MAX_BACKOFF|BACKOFF_MULTIPLIER)='); do
  unset "${v%=}"
done
export HOME="$T/home"
mkdir -p "$HOME"
unset LOG_LEVEL

SIZE=$((2 * 1024 * 1024 * 1024))
LIMIT_KB=$((64 * 1024))
REMOTE=/Volumes/main/default/big/dir/two-gib.bin

emu_start emu
export DATABRICKS_HOST=$EMU_URL DATABRICKS_TOKEN=dapi-emulator
"$SLUICE_BIN" dbx sql "CREATE VOLUME main.default.big" >/dev/null
truncate -s "$SIZE" "$T/two-gib.bin"

# Peak RSS of the uploading process alone: its rusage as a waited-for child of python.
python3 - "$T/rss" "$SLUICE_BIN" dbx files put "$T/two-gib.bin" "$REMOTE" <<'PY'
import resource, subprocess, sys
rc = subprocess.run(sys.argv[2:]).returncode
open(sys.argv[1], "w").write("%d %d\n" % (rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
PY
read -r rc rss_kb <"$T/rss"
echo "2 GiB upload: exit $rc, peak RSS ${rss_kb} kB (limit ${LIMIT_KB} kB)"
it_expect_eq "files put exit code" "$rc" 0
[ "$rss_kb" -gt 0 ] && [ "$rss_kb" -lt "$LIMIT_KB" ] || it_fail "peak RSS ${rss_kb} kB, want < ${LIMIT_KB} kB"

out=$("$SLUICE_BIN" dbx files stat "$REMOTE")
echo "$out" | grep -qx "size: $SIZE" || it_fail "files stat: $out"
curl -sf "$EMU_URL/_emulator/stats" -o "$T/body"
it_expect_eq "bytes the emulator received" "$(jb --arg p "$REMOTE" '.uploads[$p].bytes')" "$SIZE"
it_expect_eq "stored file size" "$(stat -c %s "$T/emu/volumes/main/default/big/dir/two-gib.bin")" "$SIZE"
emu_stop_all
echo ok
