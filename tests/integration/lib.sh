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
