#!/usr/bin/env bash
# CP across processes: a leader and a `ringlm worker` rendezvous through a
# file store; greedy tokens equal the single-rank run for both ring variants.
# The group uses the leader's KV element type even where a worker asks for
# another (pass-kv: the worker says bf16, the leader's f32 holds). The store
# serves run after run (each group takes its keys out). A worker with
# another model file, or another weight type, is refused at once, on both sides.
source "$(dirname "$0")/lib.sh"
PROMPT="Write one sentence about the ocean and one about the mountains."
"$RINGLM" generate --model "$MODEL" --prompt "$PROMPT" --chat --max-tokens 24 --json > "$WORK/n1.json"
for variant in pass-kv pass-q; do
  store="$WORK/store-$variant"
  mkdir -p "$store"
  # The worker takes its rank from flags (pass-kv) or from the launcher's
  # RANK / WORLD_SIZE environment (pass-q).
  if [ "$variant" = pass-kv ]; then
    "$RINGLM" worker --model "$MODEL" --world 2 --rank 1 --store "file:$store" --threads 1 \
      --kv-type bf16 2> "$WORK/worker-$variant.log" &
  else
    RANK=1 WORLD_SIZE=2 "$RINGLM" worker --model "$MODEL" --store "file:$store" --threads 1 \
      2> "$WORK/worker-$variant.log" &
  fi
  PIDS+=($!)
  "$RINGLM" generate --model "$MODEL" --world 2 --rank 0 --store "file:$store" --threads 1 \
    --prompt "$PROMPT" --chat --max-tokens 24 --variant "$variant" --json > "$WORK/n2.json"
  wait "${PIDS[-1]}" || fail "worker exited with an error: $(cat "$WORK/worker-$variant.log")"
  a=$(json_get "$WORK/n1.json" "j['tokens']")
  b=$(json_get "$WORK/n2.json" "j['tokens']")
  [ "$a" = "$b" ] || fail "$variant tokens differ: $a vs $b"
  [ "$(json_get "$WORK/n2.json" "j['stats']['world_size'], j['stats']['variant']")" = "2 $variant" ] ||
    fail "stats: $(cat "$WORK/n2.json")"
  grep -q True <<< "$(json_get "$WORK/n2.json" "all(b > 0 for b in j['stats']['bytes_sent'])")" ||
    fail "no ring traffic reported: $(cat "$WORK/n2.json")"
  # One KV page per rank of the leader's (f32) type on both ranks.
  grep -q True <<< "$(json_get "$WORK/n2.json" "len(set(j['stats']['kv_bytes'])) == 1")" ||
    fail "ranks hold different KV types: $(cat "$WORK/n2.json")"
  [ -z "$(ls -A "$store")" ] || fail "the group left keys in its store: $(ls "$store")"
done

# Another model file (one metadata byte changed): refused by the handshake.
python3 - "$MODEL" "$WORK/other.gguf" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
at = data.index(b"SmolLM")
data[at + 5] ^= 1
open(sys.argv[2], "wb").write(data)
PY
store="$WORK/store-other"
"$RINGLM" worker --model "$WORK/other.gguf" --world 2 --rank 1 --store "file:$store" --threads 1 \
  2> "$WORK/worker-other.log" &
PIDS+=($!)
if "$RINGLM" generate --model "$MODEL" --world 2 --rank 0 --store "file:$store" --threads 1 \
  --prompt "$PROMPT" --max-tokens 2 --timeout-ms 60000 > "$WORK/other.out" 2> "$WORK/leader-other.log"; then
  fail "a leader and a worker with different models ran: $(cat "$WORK/other.out")"
fi
grep -q "another model" "$WORK/leader-other.log" || fail "leader: $(cat "$WORK/leader-other.log")"
if wait "${PIDS[-1]}"; then fail "the worker with another model exited 0"; fi
grep -q "another model" "$WORK/worker-other.log" || fail "worker: $(cat "$WORK/worker-other.log")"

# Another weight type (the leader's bf16, the worker's default f32): refused.
store="$WORK/store-weights"
"$RINGLM" worker --model "$MODEL" --world 2 --rank 1 --store "file:$store" --threads 1 \
  2> "$WORK/worker-weights.log" &
PIDS+=($!)
if "$RINGLM" generate --model "$MODEL" --world 2 --rank 0 --store "file:$store" --threads 1 \
  --weight-type bf16 --prompt "$PROMPT" --max-tokens 2 > "$WORK/weights.out" 2> "$WORK/leader-weights.log"; then
  fail "a bf16 leader and an f32 worker ran: $(cat "$WORK/weights.out")"
fi
grep -q "rank 1 holds f32 weights and rank 0 bf16" "$WORK/leader-weights.log" ||
  fail "leader: $(cat "$WORK/leader-weights.log")"
if wait "${PIDS[-1]}"; then fail "the worker with another weight type exited 0"; fi
grep -q "same weight type" "$WORK/worker-weights.log" || fail "worker: $(cat "$WORK/worker-weights.log")"
echo "multiprocess_cp_test: ok"
