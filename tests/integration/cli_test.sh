#!/usr/bin/env bash
# The ringlm tool's contract: info, devices, tokenize, generate --json / --logits-out,
# clear errors with a non-zero exit for bad input.
source "$(dirname "$0")/lib.sh"

"$RINGLM" info --model "$MODEL" --json > "$WORK/info.json"
[ "$(json_get "$WORK/info.json" "j['layers'], j['heads'], j['kv_heads'], j['chat_template']")" = "30 9 3 chatml" ] ||
  fail "info: $(cat "$WORK/info.json")"
# Tensors per type add up; the default model is mostly Q4_1 (134.5M parameters).
[ "$(json_get "$WORK/info.json" "sum(j['tensor_types'].values()) == j['tensors'], j['tensor_types']['Q4_1'] > 200, round(j['parameters'] / 1e6, 1)")" = \
  "True True 134.5" ] || fail "info tensor types: $(cat "$WORK/info.json")"

"$RINGLM" devices --json > "$WORK/devices.json"
python3 - "$WORK/devices.json" <<'PY' || fail "devices: $(cat "$WORK/devices.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert isinstance(j["cuda_devices"], int) and j["cuda_devices"] >= 0
assert j["cuda_built"] or (j["cuda_devices"] == 0 and not j["nccl_built"])
assert j["cudnn_attention_built"] or j["cudnn"] == "not built"
PY

"$RINGLM" tokenize --model "$MODEL" --text "Hello world" > "$WORK/ids.json"
[ "$(cat "$WORK/ids.json")" = "[19556,905]" ] || fail "tokenize: $(cat "$WORK/ids.json")"

"$RINGLM" generate --model "$MODEL" --prompt "The capital of France is" --max-tokens 8 \
  --temperature 0 --json --logits-out "$WORK/logits.f32" > "$WORK/gen.json"
grep -q "Paris" <<< "$(json_get "$WORK/gen.json" "j['text']")" || fail "generate: $(cat "$WORK/gen.json")"
[ "$(json_get "$WORK/gen.json" "len(j['tokens']), j['stats']['new_tokens'], j['stats']['world_size']")" = "8 5 1" ] ||
  fail "generate stats: $(cat "$WORK/gen.json")"
[ "$(stat -c %s "$WORK/logits.f32")" = $((49152 * 4)) ] || fail "logits file size"
python3 - "$WORK/logits.f32" "$WORK/gen.json" <<'PY' || fail "logits argmax is not the first greedy token"
import json, struct, sys
data = open(sys.argv[1], "rb").read()
v = struct.unpack("<%df" % (len(data) // 4), data)
assert max(range(len(v)), key=v.__getitem__) == json.load(open(sys.argv[2]))["tokens"][0]
PY

# --prompt-file (a path, or - for stdin): the same prompt, the same tokens.
printf 'The capital of France is' > "$WORK/prompt.txt"
"$RINGLM" generate --model "$MODEL" --prompt-file "$WORK/prompt.txt" --max-tokens 8 --json \
  > "$WORK/genf.json" || fail "generate --prompt-file"
"$RINGLM" generate --model "$MODEL" --prompt-file - --max-tokens 8 --json < "$WORK/prompt.txt" \
  > "$WORK/genstdin.json" || fail "generate --prompt-file -"
for f in genf genstdin; do
  [ "$(json_get "$WORK/$f.json" "j['tokens']")" = "$(json_get "$WORK/gen.json" "j['tokens']")" ] ||
    fail "$f: $(cat "$WORK/$f.json")"
done

# Two ranks in this process, through shared memory (--comm auto, the
# default) and through Gloo over loopback TCP: the same greedy tokens.
for comm in auto gloo; do
  "$RINGLM" generate --model "$MODEL" --cp 2 --threads 1 --comm $comm --prompt "The capital of France is" \
    --max-tokens 8 --json > "$WORK/gen_$comm.json" || fail "generate --cp 2 --comm $comm"
  [ "$(json_get "$WORK/gen_$comm.json" "j['tokens'], j['stats']['world_size']")" = \
    "$(json_get "$WORK/gen.json" "j['tokens']") 2" ] || fail "--comm $comm: $(cat "$WORK/gen_$comm.json")"
done

# A bf16 KV cache: half the KV bytes of f32, the same greedy answer here.
"$RINGLM" generate --model "$MODEL" --prompt "The capital of France is" --max-tokens 8 \
  --kv-type bf16 --json > "$WORK/gen16.json"
python3 - "$WORK/gen.json" "$WORK/gen16.json" <<'PY' || fail "bf16 KV: $(cat "$WORK/gen16.json")"
import json, sys
f32, bf16 = (json.load(open(p)) for p in sys.argv[1:])
assert bf16["tokens"] == f32["tokens"], (bf16["tokens"], f32["tokens"])
assert 2 * bf16["stats"]["kv_bytes"][0] < f32["stats"]["kv_bytes"][0] * 1.01
PY

# bf16 weights (--weight-type): the same greedy answer here.
"$RINGLM" generate --model "$MODEL" --prompt "The capital of France is" --max-tokens 8 \
  --weight-type bf16 --json > "$WORK/genw16.json" || fail "generate --weight-type bf16"
[ "$(json_get "$WORK/genw16.json" "j['tokens']")" = "$(json_get "$WORK/gen.json" "j['tokens']")" ] ||
  fail "bf16 weights: $(cat "$WORK/genw16.json")"

# bench ring: both variants, each with the three key-run settings; on the
# CPU, "always" cuts the two-chunk KV blocks into more calls than "never".
"$RINGLM" bench ring --tokens 512 --ranks 2 --heads 4 --kv-heads 2 --head-dim 32 --reps 1 \
  > "$WORK/ring.txt" || fail "bench ring: $(cat "$WORK/ring.txt")"
python3 - "$WORK/ring.txt" <<'PY' || fail "bench ring output: $(cat "$WORK/ring.txt")"
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("pass-")]
assert [(r[0], r[1]) for r in rows] == [(v, k) for v in ("pass-kv", "pass-q")
                                        for k in ("never", "auto", "always")], rows
calls = {(r[0], r[1]): float(r[4]) for r in rows}
for v in ("pass-kv", "pass-q"):
    assert calls[(v, "always")] > calls[(v, "never")] == calls[(v, "auto")], calls
assert all(float(r[2]) > 0 for r in rows), rows
PY

# Bad input: clear error, non-zero exit, never a crash.
expect_error() {
  local want=$1; shift
  if "$RINGLM" "$@" > "$WORK/out" 2> "$WORK/err"; then fail "expected failure: $*"; fi
  grep -q "$want" "$WORK/err" || fail "expected '$want' from $*: $(cat "$WORK/err")"
}
expect_error "NOT_FOUND" info --model "$WORK/missing.gguf"
head -c 1000 "$MODEL" > "$WORK/truncated.gguf"
expect_error "CORRUPT_DATA" info --model "$WORK/truncated.gguf"
expect_error "unknown flag" generate --model "$MODEL" --prompt x --bogus 1
expect_error "one of them" generate --model "$MODEL" --prompt x --prompt-file "$WORK/prompt.txt"
expect_error "one of them" generate --model "$MODEL"
expect_error "cannot read the prompt file" generate --model "$MODEL" --prompt-file "$WORK/missing.txt"
expect_error "INVALID_ARGUMENT" generate --model "$MODEL" --prompt x --temperature -1
expect_error "variant" generate --model "$MODEL" --prompt x --variant sideways
expect_error "kv-type" generate --model "$MODEL" --prompt x --kv-type f16
expect_error "weight-type must be auto, f32, bf16 or q8_0" generate --model "$MODEL" --prompt x --weight-type q4
expect_error "weight type q8_0 is not available on the cuda backend" generate --model "$MODEL" --prompt x --backend cuda --weight-type q8_0
expect_error "comm must be auto, gloo or nccl" generate --model "$MODEL" --prompt x --comm tcp
expect_error "threads must be in" generate --model "$MODEL" --prompt x --threads 100000
expect_error "leader-timeout-ms must be an integer in" generate --model "$MODEL" --prompt x --leader-timeout-ms 100
expect_error "timeout-ms must be an integer in" generate --model "$MODEL" --prompt x --timeout-ms 9999999999
# Numbers past their range, words that are no flag's value, a flag taken for
# a value: refused, not read as something else.
expect_error "max-tokens must be an integer in" generate --model "$MODEL" --prompt x --max-tokens 4294967296
expect_error "rank must be an integer in" generate --model "$MODEL" --prompt x --rank 4294967296
expect_error "kv-budget-mb must be an integer in" generate --model "$MODEL" --prompt x --kv-budget-mb 0
RANK=abc expect_error "RANK must be an integer" generate --model "$MODEL" --prompt x
expect_error "unexpected argument 'extra'" generate --model "$MODEL" --prompt x extra
expect_error "unexpected argument '-cp'" chat --model "$MODEL" -cp 2
expect_error "needs a value, not the flag '--json'" generate --model "$MODEL" --prompt --json
expect_error "only must be scaling, sweep or decode" bench cp --model "$MODEL" --only foo
HOME="$WORK/nohome" RINGLM_MODEL= expect_error "scripts/fetch_model.sh" generate --prompt x
"$RINGLM" chat --help > /dev/null 2>&1 || fail "chat --help did not exit 0"
# --logprobs N: a log-probability per generated token, each with N alternatives.
"$RINGLM" generate --model "$MODEL" --prompt "The capital of France is" --max-tokens 3 --logprobs 2 \
  --json > "$WORK/lp.json" || fail "generate --logprobs failed"
[ "$(json_get "$WORK/lp.json" "len(j['logprobs']) == len(j['tokens']) == 3 and all(len(x['top']) == 2 and x['logprob'] <= 0 for x in j['logprobs'])")" = "True" ] ||
  fail "generate --logprobs: $(cat "$WORK/lp.json")"
expect_error "logprobs" generate --model "$MODEL" --prompt x --logprobs 21
# The last of a repeated flag wins.
"$RINGLM" generate --model "$MODEL" --prompt Hi --max-tokens 1 --max-tokens 2 --json > "$WORK/last.json"
grep -q '"generated_tokens": *2' "$WORK/last.json" || fail "the last --max-tokens did not win: $(cat "$WORK/last.json")"
# chat fails (exit 1) when a turn fails, and goes on with the next line.
if printf '%s\nHi\n' "$(python3 -c "print('word ' * 20000)")" |
    "$RINGLM" chat --model "$MODEL" --max-tokens 2 --quiet > "$WORK/chat_fail.out" 2> "$WORK/chat_fail.err"; then
  fail "chat exited 0 after a failed turn"
fi
grep -q "OUT_OF_RANGE" "$WORK/chat_fail.err" || fail "chat did not report the failed turn"
[ -s "$WORK/chat_fail.out" ] || fail "chat did not answer the turn after the failed one"
# chat --session F: the second run resumes the first's conversation from F
# with its KV (only the new turn is prefilled) and saves it again.
SESSION="$WORK/chat.session"
echo "What is the capital of France?" |
  "$RINGLM" chat --model "$MODEL" --max-tokens 8 --session "$SESSION" > "$WORK/s1.out" 2> "$WORK/s1.err" ||
  fail "chat --session (new) failed: $(cat "$WORK/s1.err")"
grep -q "(cached 0)" "$WORK/s1.out" || fail "a new chat --session had cached tokens: $(cat "$WORK/s1.out")"
echo "And of Germany?" |
  "$RINGLM" chat --model "$MODEL" --max-tokens 8 --session "$SESSION" > "$WORK/s2.out" 2> "$WORK/s2.err" ||
  fail "chat --session (resumed) failed: $(cat "$WORK/s2.err")"
grep -q "resumed .*: 2 messages" "$WORK/s2.err" || fail "chat did not resume: $(cat "$WORK/s2.err")"
cached=$(sed -n 's/.*(cached \([0-9]*\)).*/\1/p' "$WORK/s2.out")
[ "${cached:-0}" -gt 20 ] || fail "the resumed turn reused no KV: $(cat "$WORK/s2.out")"
echo "Thanks" | "$RINGLM" chat --model "$MODEL" --max-tokens 1 --session "$SESSION" 2> "$WORK/s3.err" > /dev/null
grep -q "resumed .*: 4 messages" "$WORK/s3.err" || fail "the second turn was not saved: $(cat "$WORK/s3.err")"
# /retry regenerates the last reply from the cached prefix (greedy: the same
# reply); /undo takes the exchange back, also in the session file; an /undo
# with nothing to take back fails the command and changes nothing.
printf 'And of Germany?\n/retry\n/undo\n' |
  "$RINGLM" chat --model "$MODEL" --max-tokens 8 --session "$SESSION" > "$WORK/r.out" 2> "$WORK/r.err" ||
  fail "chat /retry failed: $(cat "$WORK/r.err")"
grep -q "took back: And of Germany?" "$WORK/r.err" || fail "/retry took nothing back: $(cat "$WORK/r.err")"
[ "$(grep -vc '^\[prefill' "$WORK/r.out")" -eq 2 ] || fail "expected two replies: $(cat "$WORK/r.out")"
[ "$(grep -v '^\[prefill' "$WORK/r.out" | sort -u | wc -l)" -eq 1 ] || fail "/retry changed the greedy reply: $(cat "$WORK/r.out")"
cached=$(sed -n 's/.*(cached \([0-9]*\)).*/\1/p' "$WORK/r.out" | tail -1)
[ "${cached:-0}" -gt 20 ] || fail "/retry reused no KV: $(cat "$WORK/r.out")"
echo "Thanks" | "$RINGLM" chat --model "$MODEL" --max-tokens 1 --session "$SESSION" 2> "$WORK/r2.err" > /dev/null
grep -q "resumed .*: 6 messages" "$WORK/r2.err" || fail "/undo was not saved: $(cat "$WORK/r2.err")"
# /retry of a first message keeps what the template writes before it (the
# default model's template adds a default system prompt).
printf 'Hi\n/retry\n' | "$RINGLM" chat --model "$MODEL" --max-tokens 2 > "$WORK/r3.out" 2>&1 ||
  fail "chat /retry of a first message failed: $(cat "$WORK/r3.out")"
cached=$(sed -n 's/.*(cached \([0-9]*\)).*/\1/p' "$WORK/r3.out" | tail -1)
[ "${cached:-0}" -gt 10 ] || fail "/retry of a first message reused no KV: $(cat "$WORK/r3.out")"
if echo "/undo" | "$RINGLM" chat --model "$MODEL" --quiet > /dev/null 2> "$WORK/undo.err"; then
  fail "chat exited 0 after an /undo with nothing to undo"
fi
grep -q "FAILED_PRECONDITION: /undo: no user message" "$WORK/undo.err" || fail "no /undo error: $(cat "$WORK/undo.err")"
# A damaged session file: an error naming it, and the file left as it was.
printf 'RINGLMSS\003\000\000\000not a session, checksum wrong' > "$WORK/bad.session"
cp "$WORK/bad.session" "$WORK/bad.session.orig"
if echo "Hi" | "$RINGLM" chat --model "$MODEL" --max-tokens 1 --session "$WORK/bad.session" \
    > /dev/null 2> "$WORK/bad_session.err"; then
  fail "chat resumed a damaged session file"
fi
grep -q "CORRUPT_DATA.*bad.session" "$WORK/bad_session.err" || fail "no CORRUPT_DATA: $(cat "$WORK/bad_session.err")"
cmp -s "$WORK/bad.session" "$WORK/bad.session.orig" || fail "chat changed a damaged session file"
expect_error "INVALID_ARGUMENT" bench session --model "$MODEL" --tokens 0
# bench session on 2 ranks: every restore and fork holds the same history.
"$RINGLM" bench session --model "$MODEL" --tokens 300 --cp 2 --reps 1 --dir "$WORK" > "$WORK/bs.out" ||
  fail "bench session failed: $(cat "$WORK/bs.out")"
grep -q "fork_s" "$WORK/bs.out" && [ "$(grep -c ' same$' "$WORK/bs.out")" -eq 1 ] ||
  fail "bench session: $(cat "$WORK/bs.out")"
expect_error "kv-heads must divide" bench ring --heads 6 --kv-heads 4
expect_error "INVALID_ARGUMENT" bench ring --tokens 0
expect_error "ranks: 2 to" bench cp --model "$MODEL" --ranks 0
echo "cli_test: ok"
