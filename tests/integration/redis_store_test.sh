#!/usr/bin/env bash
# Rendezvous through Gloo's Redis store (Debian's redis-server on loopback).
source "$(dirname "$0")/lib.sh"
command -v redis-server > /dev/null || { echo "SKIPPED: redis-server not installed"; exit 77; }
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no > "$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do
  [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done
# Twice on the same server: each group takes its keys out once connected.
for run in 1 2; do
  "$RINGLM" worker --model "$MODEL" --world 2 --rank 1 --store "redis://127.0.0.1:$port" \
    --threads 1 2> "$WORK/worker.log" &
  PIDS+=($!)
  "$RINGLM" generate --model "$MODEL" --world 2 --rank 0 --store "redis://127.0.0.1:$port" \
    --threads 1 --prompt "The capital of France is" --max-tokens 6 --json > "$WORK/out.json"
  wait "${PIDS[-1]}" || fail "run $run: worker failed: $(cat "$WORK/worker.log")"
  grep -q "Paris" <<< "$(json_get "$WORK/out.json" "j['text']")" || fail "$(cat "$WORK/out.json")"
  [ "$(redis-cli -p "$port" dbsize)" = 0 ] || fail "run $run left keys: $(redis-cli -p "$port" keys '*')"
done
# A server that accepts connections and never answers: the rendezvous
# fails at its deadline instead of waiting forever.
kill -STOP "${PIDS[0]}"
start=$(date +%s)
rc=0
timeout 60 "$RINGLM" worker --model "$MODEL" --world 2 --rank 1 --store "redis://127.0.0.1:$port" \
  --threads 1 --timeout-ms 2000 2> "$WORK/stopped.log" || rc=$?
kill -CONT "${PIDS[0]}"
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "rc $rc against a stopped server: $(cat "$WORK/stopped.log")"
[ $(( $(date +%s) - start )) -lt 30 ] || fail "took $(( $(date +%s) - start )) s"
echo "redis_store_test: ok"
