#!/usr/bin/env bash
# Secrets are wiped with explicit_bzero, which the optimiser keeps: checks the object code
# (sl_secret_wipe calls explicit_bzero in this build, at this optimisation level), that the
# Databricks client calls sl_secret_free, that the load generator holds no credential at
# all (every request, and so every Authorization line, is built in src/dbx: it links no
# curl), and that no source file still wipes with memset(p, 0, strlen(p)) — a dead store
# the compiler removes before free.
set -euo pipefail
src=${SLUICE_SRC:?}
build=${SLUICE_BUILD:?}
fail=0
util=$(find "$build" -name 'libsluice_util.a' | head -1)
if ! grep -q ' U explicit_bzero' <<<"$(nm "$util")"; then
  echo "FAIL: libsluice_util.a does not call explicit_bzero" >&2; fail=1
fi
a=$(find "$build" -name libsluice_dbx.a | head -1)
if ! grep -q ' U sl_secret_free' <<<"$(nm "$a")"; then
  echo "FAIL: libsluice_dbx.a does not use sl_secret_free" >&2; fail=1
fi
a=$(find "$build" -name libsluice_loadtest.a | head -1)
if grep -E ' U (curl_|sl_dbx_auth_header)' <<<"$(nm "$a")"; then
  echo "FAIL: libsluice_loadtest.a does HTTP or auth itself (above); use sl_dbx_async" >&2; fail=1
fi
if grep -rnE 'memset\(([a-z_>.-]+), 0, strlen\(\1\)\)' "$src/src" "$src/workflows"; then
  echo "FAIL: memset-before-free wipes above; use sl_secret_free" >&2; fail=1
fi
[ $fail -eq 0 ] && echo "secret wipe: ok"
exit $fail
