# Shared helpers for the integration tests (sourced).
set -euo pipefail
RINGLM=${1:?usage: $0 path/to/ringlm}
MODEL=${RINGLM_MODEL:-$HOME/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -f "$MODEL" ] || { echo "default model missing at $MODEL (run scripts/fetch_model.sh)"; exit 1; }
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# json_get FILE EXPR: evaluates a Python expression over the parsed JSON `j`.
json_get() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# start_worker [FLAGS...]: rank 1 of a 2-rank group of the default model on a
# fresh file store ($store, for the leader), in the background, its stderr in
# $WORK/worker.log; sets $worker.
start_worker() {
  store="$WORK/store"
  mkdir -p "$store"
  "$RINGLM" worker --model "$MODEL" --world 2 --rank 1 --store "file:$store" --threads 1 "$@" \
    2> "$WORK/worker.log" &
  worker=$!
  PIDS+=($worker)
}

# wait_for_leader_output: waits up to 60 s for the leader ($leader) to write
# to $WORK/leader.out; fails if it ends first or writes nothing.
wait_for_leader_output() {
  for _ in $(seq 1 300); do
    [ -s "$WORK/leader.out" ] && return 0
    kill -0 "$leader" 2>/dev/null || fail "leader ended early: $(cat "$WORK/leader.err")"
    sleep 0.2
  done
  fail "leader wrote nothing in 60 s"
}
