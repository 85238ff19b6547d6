#!/usr/bin/env bash
# timeout: 120
# `sluice bench` runs its workflows end to end and reports what it measured: every key of
# its JSON, all workflows completed without errors, percentiles in order, one commit for many
# workflows (group commit), and no temporary database left behind. Figures themselves are not
# asserted here: performance is measured with this command, not by timed tests.
. "$SLUICE_SRC/tests/lib/common.sh"
S=$SLUICE_BIN
export TMPDIR="$T/tmp"; mkdir -p "$TMPDIR"
j=$($S bench --workflows 3000 --steps 3 --concurrency 64 --warmup 50 -o json)
for k in workflows steps concurrency durability wall_s workflows_per_s p50_ms p99_ms rss_mb \
  db_bytes_per_workflow; do
  jq -e "has(\"$k\")" <<<"$j" >/dev/null || it_fail "bench JSON lacks $k"
done
it_expect_eq workflows "$(jq .workflows <<<"$j")" 3000
it_expect_eq errors "$(jq .errors <<<"$j")" 0
it_expect_eq durability "$(jq -r .durability <<<"$j")" normal
jq -e '.p50_ms > 0 and .p50_ms <= .p99_ms and .rss_mb > 1 and .workflows_per_s > 0 and
  .db_bytes_per_workflow > 100' <<<"$j" >/dev/null || it_fail "implausible figures: $j"
# group commit: far fewer commits than the 3000 x 5 state changes
jq -e '.commits < 3000' <<<"$j" >/dev/null || it_fail "no group commit: $(jq .commits <<<"$j") commits"
# the temporary database is removed afterwards
it_expect_eq "temp dirs left" "$(find "$TMPDIR" -mindepth 1 | wc -l)" 0
j=$($S bench --workflows 500 --steps 1 --concurrency 8 --durability full -o json)
it_expect_eq "full errors" "$(jq .errors <<<"$j")" 0
it_expect_eq "full durability" "$(jq -r .durability <<<"$j")" full
it_expect_fail 2 "--durability must be normal or full" $S bench --durability sometimes
it_expect_fail 2 "--workflows" $S bench --workflows 0
echo PASS
