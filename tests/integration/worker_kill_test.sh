#!/usr/bin/env bash
# A worker killed during a request: the leader reports an error within a
# bounded time (a few deadlines), and neither hangs nor crashes.
source "$(dirname "$0")/lib.sh"
start_worker --timeout-ms 3000
"$RINGLM" generate --model "$MODEL" --world 2 --rank 0 --store "file:$store" --threads 1 \
  --timeout-ms 3000 --prompt "Count from one to one thousand." --chat --max-tokens 2000 \
  > "$WORK/leader.out" 2> "$WORK/leader.err" &
leader=$!
PIDS+=($leader)
# Wait until the leader streams tokens, then kill the worker.
wait_for_leader_output
kill -9 "$worker"
start=$(date +%s)
status=0
for _ in $(seq 1 150); do
  kill -0 "$leader" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$leader" 2>/dev/null; then fail "leader still running 30 s after the worker died"; fi
wait "$leader" || status=$?
elapsed=$(( $(date +%s) - start ))
[ "$status" -ne 0 ] || fail "leader exited 0 after losing its worker"
[ "$status" -lt 128 ] || fail "leader crashed (exit $status): $(cat "$WORK/leader.err")"
grep -Eq "UNAVAILABLE|DEADLINE_EXCEEDED" "$WORK/leader.err" || fail "unclear error: $(cat "$WORK/leader.err")"
echo "worker_kill_test: ok (leader failed after ${elapsed}s: $(tail -n 1 "$WORK/leader.err"))"
