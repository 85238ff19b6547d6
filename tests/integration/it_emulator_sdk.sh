#!/usr/bin/env bash
# timeout: 420
# it_emulator_sdk.sh - the official JS SDK (@databricks/sdk-experimental), unmodified, against
# the emulator: warehouses, statement execution and results, Files upload/download/list,
# Genie start-conversation + wait + query result. The SDK is installed once into a cache
# dir (${XDG_CACHE_HOME:-$HOME/.cache}/sluice-test/npm). Set SLUICE_SKIP_SDK=1 to skip.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

SDK_VERSION=${SLUICE_SDK_VERSION:-0.17.0}
if [ "${SLUICE_SKIP_SDK:-0}" == 1 ]; then echo "SKIP: SLUICE_SKIP_SDK=1"; exit 0; fi
command -v node >/dev/null && command -v npm >/dev/null || it_fail "node and npm are needed (deploy/install-deps.sh installs them)"

CACHE="${XDG_CACHE_HOME:-$HOME_ORIG/.cache}/sluice-test/npm"
mkdir -p "$CACHE"
have=$(jq -r .version "$CACHE/node_modules/@databricks/sdk-experimental/package.json" 2>/dev/null || true)
if [ "$have" != "$SDK_VERSION" ]; then
  [ -f "$CACHE/package.json" ] || echo '{"name":"sluice-sdk-check","private":true}' > "$CACHE/package.json"
  # The registry can drop a connection now and then: three tries before giving up.
  ok=0
  for attempt in 1 2 3; do
    if (cd "$CACHE" && npm install --no-audit --no-fund --loglevel=error \
      "@databricks/sdk-experimental@$SDK_VERSION") > "$T/npm.log" 2>&1; then ok=1; break; fi
    echo "npm install attempt $attempt failed" >&2
  done
  [ "$ok" == 1 ] || { cat "$T/npm.log" >&2; it_fail "npm install failed"; }
fi

emu_start emu --genie-latency 300ms --genie-rate 0
sql_ok "CREATE VOLUME IF NOT EXISTS main.default.sdk"
DATABRICKS_HOST=$EMU_URL DATABRICKS_TOKEN=dapi-emulator NODE_PATH="$CACHE/node_modules" \
  node "$SLUICE_SRC/tests/fixtures/emulator/sdk_check.mjs" > "$T/sdk.log" 2>&1 || { cat "$T/sdk.log" >&2; it_fail "SDK check failed"; }
cat "$T/sdk.log"
grep -q '^sdk_check: ok$' "$T/sdk.log" || it_fail "SDK check did not finish"
emu_stop_all
echo "it_emulator_sdk: ok"
