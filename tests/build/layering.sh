#!/usr/bin/env bash
# The layering is a build fact: a subsystem sees the public headers and its own private
# ones only. Checks (1) no relative include climbs out of a directory, (2) every quoted
# include that is not sluice/... names a file in the including file's own directory, and
# (3) a file built with src/dbx's include path cannot include src/engine/engine_int.h
# (compiled for real, with a control that includes dbx_int.h and must compile).
set -euo pipefail
src=${SLUICE_SRC:?}
build=${SLUICE_BUILD:?}
fail=0

if grep -rn '#include "\.\./' "$src/src" "$src/workflows"; then
  echo "FAIL: relative includes above" >&2; fail=1
fi

while IFS= read -r line; do
  file=${line%%:*}
  hdr=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
  case $hdr in sluice/*) continue ;; esac
  if [ ! -f "$(dirname "$file")/$hdr" ]; then
    echo "FAIL: $file includes \"$hdr\", which is not in its own directory" >&2; fail=1
  fi
done < <(grep -rn --include='*.[ch]' '^#include "' "$src/src" "$src/workflows" | cut -d: -f1,3-)

if ! out=$(cmake --build "$build" --target layering_probe_good 2>&1); then
  echo "$out" >&2; echo "FAIL: the control probe (dbx includes dbx_int.h) does not compile" >&2; fail=1
fi
if out=$(cmake --build "$build" --target layering_probe_bad 2>&1); then
  echo "FAIL: a dbx file could include engine_int.h" >&2; fail=1
elif ! grep -qE "engine_int.h'?: No such file|'engine_int.h' file not found" <<<"$out"; then
  echo "$out" >&2; echo "FAIL: the violation probe failed for another reason" >&2; fail=1
fi
[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
