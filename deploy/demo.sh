#!/usr/bin/env bash
# make demo: run a small workflow end to end on a fresh database and show its history.
set -euo pipefail
S=${1:-build/sluice}
d=$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo.XXXXXX")
trap 'rm -rf "$d"' EXIT
export SLUICE_DB="$d/sluice.db"
echo "== sluice demo (database $SLUICE_DB)"
echo "== starting workflow noop_chain (3 steps) and flaky (fails twice, then succeeds)"
"$S" workflow start --type noop_chain --id demo-chain --input '{"steps":3,"activity_ms":100}'
"$S" workflow start --type flaky --id demo-flaky \
  --input '{"fail_times":2,"error_type":"DemoError","activity_options":{"retry_policy":{"initial_interval":"200ms"}}}'
echo "== running a worker until the queue is empty"
"$S" worker --exit-when-idle
echo "== sluice workflow show demo-chain"
"$S" workflow show demo-chain
echo "== sluice workflow show demo-flaky (each failed attempt is in the history)"
"$S" workflow show demo-flaky
echo "== sluice workflow list"
"$S" workflow list
