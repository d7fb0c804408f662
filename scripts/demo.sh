#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine and runs the main job: a
# multi-turn chat with the default model (SmolLM2-135M-Instruct) whose context
# is spread over 2 CP ranks. Turn 3 refers back to turn 1; each turn prefills
# only its new tokens (see "cached" in the stats lines). The last line,
# /retry, takes turn 3 back and asks it again: the reply is regenerated from
# the KV of turns 1-2, which stays cached.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
model=$(bash scripts/fetch_model.sh | tail -n 1)
bash scripts/build.sh
printf '%s\n' \
  "My cat is called Tom." \
  "What is the largest planet in our solar system?" \
  "What is my cat called?" \
  "/retry" |
  build/bin/ringlm chat --model "$model" --cp "${RINGLM_CP:-2}" --max-tokens 64 --echo "$@"
