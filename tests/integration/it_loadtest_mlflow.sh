#!/usr/bin/env bash
# timeout: 120
# it_loadtest_mlflow.sh - experiment tracking against the emulator's MLflow endpoints:
# with MLFLOW_TRACKING_URI=databricks (the configured workspace) a scenario creates the
# experiment and a parent run with the scenario's params and the summary metrics
# (success_rate as a fraction), plus one child run per question tagged
# mlflow.parentRunId; with an http tracking URL a second run lands in the same
# experiment. Everything is read back through the MLflow REST API with curl.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"
. "$SLUICE_SRC/tests/fixtures/loadtest/lib.sh"

emu_start emu --genie-latency 20ms --genie-rate 0
lt_env
EXP=/Users/ci@example.com/genie-load-test
MLFLOW_TRACKING_URI=databricks lt_run ml genie --scenario moderate_load --time-scale 0.02 \
  --poll-initial 10ms --experiment "$EXP"
RUN=$(sed -n 's/^mlflow: run \([0-9a-f]*\) in experiment .*/\1/p' "$T/ml.out")
[ -n "$RUN" ] || it_fail "no run id printed: $(tail -3 "$T/ml.out")"

enc=$(jq -rn --arg e "$EXP" '$e | @uri')
req GET "/api/2.0/mlflow/experiments/get-by-name?experiment_name=$enc"
expect_code 200
EXP_ID=$(jb .experiment.experiment_id)
req GET "/api/2.0/mlflow/runs/get?run_id=$RUN"
expect_code 200
it_expect_eq "run name" "$(jb .run.info.run_name)" load_test_moderate_load
it_expect_eq "run status" "$(jb .run.info.status)" FINISHED
it_expect_eq "experiment" "$(jb .run.info.experiment_id)" "$EXP_ID"
param() { jb ".run.data.params[] | select(.key == \"$1\") | .value"; }
metric() { jb ".run.data.metrics[] | select(.key == \"$1\") | .value"; }
it_expect_eq "param scenario" "$(param scenario)" moderate_load
it_expect_eq "param workers" "$(param workers)" 5
it_expect_eq "param duration" "$(param duration)" 30s
it_expect_eq "param cache" "$(param cache)" none
it_expect_eq "param questions" "$(param questions)" 20
it_expect_eq "param num_questions" "$(param num_questions)" 20
it_expect_eq "param max_workers" "$(param max_workers)" 5
it_expect_eq "param target_duration" "$(param target_duration)" 30
it_expect_eq "param time_scale" "$(param time_scale)" 0.02
it_expect_eq "metric success_rate (a fraction)" "$(metric success_rate)" 1
it_expect_eq "metric successful_questions" "$(metric successful_questions)" 20
it_expect_eq "metric failed_questions" "$(metric failed_questions)" 0
for m in total_duration_seconds avg_question_duration throughput_qps latency_p99_seconds \
  latency_actual_p99_seconds; do
  v=$(metric $m)
  awk -v v="$v" 'BEGIN { exit !(v > 0) }' || it_fail "metric $m = '$v'"
done

# children: one per question, nested under the parent
req POST /api/2.0/mlflow/runs/search \
  "$(jq -nc --arg e "$EXP_ID" --arg p "$RUN" '{experiment_ids: [$e], filter: "tags.mlflow.parentRunId = '"'"'\($p)'"'"'", max_results: 100}')"
expect_code 200
it_expect_eq "child runs" "$(jb '.runs | length')" 20
it_expect_eq "child names" "$(jb '[.runs[].info.run_name] | sort | .[0:2] | join(",")')" \
  "question_0,question_1"
it_expect_eq "children succeeded" \
  "$(jb '[.runs[].data.metrics[] | select(.key == "success") | .value] | add')" 20
it_expect_eq "child params" \
  "$(jb '.runs[0].data.params | map(.key) | sort | join(",")')" \
  "conversation_id,message_id,question,timestamp"
it_expect_eq "child status tag" \
  "$(jb '[.runs[].data.tags[] | select(.key == "status") | .value] | unique | join(",")')" success
it_expect_eq "child duration metric" \
  "$(jb '[.runs[].data.metrics[] | select(.key == "duration_seconds")] | length')" 20

# an http tracking URL (token from MLFLOW_TRACKING_TOKEN, else the workspace's)
MLFLOW_TRACKING_URI=$EMU_URL lt_run ml2 genie --scenario single_test --poll-initial 10ms \
  --experiment "$EXP" --mlflow-children 0
req POST /api/2.0/mlflow/runs/search \
  "$(jq -nc --arg e "$EXP_ID" '{experiment_ids: [$e], filter: "attributes.run_name = '"'"'load_test_single_test'"'"'"}')"
it_expect_eq "second parent run" "$(jb '.runs | length')" 1
it_expect_eq "its params" "$(jb '.runs[0].data.params[] | select(.key == "target_duration") | .value')" None
it_expect_fail 1 "MLFLOW_TRACKING_URI 'file:///tmp/mlruns' is not supported" \
  env MLFLOW_TRACKING_URI=file:///tmp/mlruns "$SLUICE_BIN" loadtest genie --scenario single_test \
  --experiment "$EXP"
emu_stop_all
