#!/usr/bin/env bash
# A leader that stops answering without closing its connections (a host that
# vanished; here a stopped process): its worker leaves the group with
# UNAVAILABLE after the leader timeout instead of waiting forever. While the
# leader idles, its heartbeats keep the worker in, and the worker takes the
# leader's timeout (it sets none itself).
source "$(dirname "$0")/lib.sh"
start_worker --timeout-ms 5000
mkfifo "$WORK/in"
"$RINGLM" chat --model "$MODEL" --world 2 --rank 0 --store "file:$store" --threads 1 \
  --timeout-ms 5000 --leader-timeout-ms 2000 --max-tokens 4 --quiet \
  < "$WORK/in" > "$WORK/leader.out" 2> "$WORK/leader.err" &
leader=$!
PIDS+=($leader)
exec 3> "$WORK/in"  # the leader's stdin stays open: it idles between turns
echo "Hello" >&3
wait_for_leader_output
# Three leader timeouts of an idle leader: the worker stays.
sleep 6
kill -0 "$worker" 2>/dev/null || fail "worker left an idle leader: $(cat "$WORK/worker.log")"
kill -STOP "$leader"
start=$(date +%s)
for _ in $(seq 1 100); do
  kill -0 "$worker" 2>/dev/null || break
  sleep 0.2
done
kill -0 "$worker" 2>/dev/null && fail "worker still waiting 20 s after its leader stopped"
status=0
wait "$worker" || status=$?
elapsed=$(( $(date +%s) - start ))
[ "$status" -ne 0 ] || fail "worker exited 0 after losing its leader"
[ "$status" -lt 128 ] || fail "worker crashed (exit $status): $(cat "$WORK/worker.log")"
grep -q "UNAVAILABLE.*no word from the leader" "$WORK/worker.log" ||
  fail "unclear error: $(cat "$WORK/worker.log")"
kill -9 "$leader" 2>/dev/null || true
echo "leader_stop_test: ok (worker left after ${elapsed}s: $(tail -n 1 "$WORK/worker.log"))"

# An in-process group has no leader to lose: stopping the whole process for
# longer than the leader timeout, between two turns, leaves it working.
exec 3>&-
rm -f "$WORK/in"
mkfifo "$WORK/in"
"$RINGLM" chat --model "$MODEL" --cp 2 --threads 1 --leader-timeout-ms 500 --max-tokens 4 \
  --quiet < "$WORK/in" > "$WORK/leader.out" 2> "$WORK/leader.err" &
leader=$!
PIDS+=($leader)
exec 3> "$WORK/in"
: > "$WORK/leader.out"
echo "Hello" >&3
wait_for_leader_output  # the first turn is done streaming: its followers idle next
sleep 1
first=$(wc -c < "$WORK/leader.out")
kill -STOP "$leader" || fail "in-process chat ended before the stop: $(cat "$WORK/leader.err")"
sleep 2
kill -CONT "$leader"
echo "And again?" >&3
exec 3>&-
status=0
wait "$leader" || status=$?
[ "$status" -eq 0 ] || fail "in-process chat failed after a stop (exit $status): $(cat "$WORK/leader.err")"
grep -q "error" "$WORK/leader.err" && fail "in-process chat reported: $(cat "$WORK/leader.err")"
[ "$(wc -c < "$WORK/leader.out")" -gt "$first" ] || fail "in-process chat answered nothing after a stop"
echo "leader_stop_test: ok (an in-process group survived a 2 s stop between turns)"
