"""Multi-turn chat on the real model: KV reuse, CP ranks, both request forms."""

import math

import pytest

import ringlm
from conftest import MAX_TOKENS, TURNS, run_chat


def test_version():
    assert ringlm.__version__ == ringlm.capi.VERSION
    assert ringlm.ABI_VERSION == ringlm.capi.ABI_VERSION


def test_three_turns_reuse_the_kv(engine):
    turns = run_chat(engine)
    for k, (resp, before) in enumerate(turns):
        st = resp.stats
        assert st.world_size == 1
        assert st.generated_tokens == len(resp.tokens) > 0
        # P: every token of the history was reused; T: only the new message.
        assert st.cached_tokens == before
        if k > 0:
            assert st.cached_tokens > 0
            assert 0 < st.new_tokens < before
    # Turn 3 asks about turn 1, which only the reused KV still holds.
    assert "Tom" in turns[2][0].text


def test_events_stream_then_response(engine):
    with engine.session() as s:
        stream = s.chat(TURNS[0], max_tokens=MAX_TOKENS)
        events = list(stream)
        texts = [e for e in events if isinstance(e, ringlm.TextEvent)]
        progress = [e for e in events if isinstance(e, ringlm.ProgressEvent)]
        assert progress and progress[-1].done == progress[-1].total > 0
        resp = stream.response
        assert resp is not None and stream.done
        assert "".join(e.text for e in texts) == resp.text
        assert tuple(t for e in texts for t in e.tokens) == resp.tokens
        assert resp.finish_reason in (ringlm.FinishReason.LENGTH, ringlm.FinishReason.STOP)
        assert stream.result() is resp  # idempotent once done


def test_dict_requests_match_flatbuffers(engine):
    """The JSON form (a plain dict) and the flatc-built FlatBuffer agree."""
    with engine.session() as a, engine.session() as b:
        fb = a.chat(TURNS[0], max_tokens=MAX_TOKENS).result()
        js = b.chat(request={"messages": [{"role": "User", "content": TURNS[0]}],
                             "max_tokens": MAX_TOKENS}).result()
    assert fb.tokens == js.tokens and fb.text == js.text
    assert js.stats.new_tokens == fb.stats.new_tokens


def test_two_cp_ranks_give_identical_greedy_tokens(engine, engine2):
    one = run_chat(engine)
    two = run_chat(engine2)
    assert [r.tokens for r, _ in one] == [r.tokens for r, _ in two]
    for resp, before in two:
        assert resp.stats.world_size == 2
        assert len(resp.stats.kv_tokens) == 2 and all(n > 0 for n in resp.stats.kv_tokens)
        assert resp.stats.cached_tokens == before
    assert engine2.info()["world_size"] == 2


def test_bf16_kv_cache_chats_on_two_ranks(model):
    with ringlm.Engine(model, world_size=2, threads_per_rank=1, kv_cache_type="BF16") as e:
        info = e.info()
        assert info["kv_cache_type"] == "bf16"
        m = info["model"]
        # A page of 256 tokens: K and V of every layer at 2 bytes, and the positions.
        page = m["n_layers"] * 2 * 256 * m["n_kv_heads"] * m["head_dim"] * 2 + 256 * 4
        turns = run_chat(e)
        for resp, before in turns:
            assert resp.tokens and resp.stats.cached_tokens == before
            for tokens, used in zip(resp.stats.kv_tokens, resp.stats.kv_bytes):
                assert used == -(-tokens // 256) * page


def test_bf16_weights_chat(model):
    with ringlm.Engine(model, threads_per_rank=1, weight_type="BF16") as e:
        assert e.info()["weight_type"] == "bf16"
        for resp, before in run_chat(e):
            assert resp.tokens and resp.stats.cached_tokens == before


def test_tokenize_roundtrip(engine):
    ids = engine.tokenize("Hello, world!")
    assert ids and all(isinstance(i, int) for i in ids)
    assert engine.detokenize(ids) == "Hello, world!"


def test_transcript_and_system_prompt(engine):
    with engine.session(system_prompt="You are terse.") as s:
        s.chat("Hi", max_tokens=2).result()
        t = s.transcript()
    roles = [m.role for m in t.messages]
    assert roles == [ringlm.Role.SYSTEM, ringlm.Role.USER, ringlm.Role.ASSISTANT]
    assert t.messages[0].content == "You are terse." and t.token_count > 0


def test_generate_raw_tokens(engine):
    ids = engine.tokenize("The capital of France is")
    with engine.session() as s:
        resp = s.generate(ids, max_tokens=3, want_prompt_logits=True).result()
        assert resp.stats.new_tokens == len(ids) and resp.stats.generated_tokens == 3
        assert len(resp.prompt_logits) == engine.info()["model"]["vocab"]
        # The first token is the argmax of the prompt's logits (greedy).
        logits = resp.prompt_logits
        assert resp.tokens[0] == max(range(len(logits)), key=logits.__getitem__)
        assert s.transcript().token_count >= len(ids)


def test_logprobs(engine):
    ids = engine.tokenize("The capital of France is")
    with engine.session() as s:
        resp = s.generate(ids, max_tokens=3, want_prompt_logits=True, top_logprobs=4).result()
    assert [lp.token for lp in resp.logprobs] == list(resp.tokens)
    # The first token's: the log-softmax of the prompt's logits.
    logits = resp.prompt_logits
    peak = max(logits)
    log_sum = math.log(sum(math.exp(x - peak) for x in logits))
    first = resp.logprobs[0]
    assert math.isclose(first.logprob, logits[resp.tokens[0]] - peak - log_sum, abs_tol=1e-4)
    for lp in resp.logprobs:  # greedy: each token is its step's likeliest
        assert len(lp.top) == 4 and lp.top[0] == (lp.token, lp.logprob)
        assert all(a[1] >= b[1] for a, b in zip(lp.top, lp.top[1:]))
    # In a chat turn too, and in the JSON form of a request.
    with engine.session() as s:
        chat = s.chat(TURNS[0], max_tokens=MAX_TOKENS, logprobs=True).result()
        assert len(chat.logprobs) == len(chat.tokens) and chat.logprobs[0].top == ()
        js = s.chat(request={"messages": [{"role": "User", "content": TURNS[1]}],
                             "max_tokens": 2, "top_logprobs": 2}).result()
        assert len(js.logprobs[0].top) == 2
        with pytest.raises(ringlm.InvalidArgumentError):
            s.chat("Hi", top_logprobs=21)
    with engine.session() as s:
        assert s.chat(TURNS[0], max_tokens=2).result().logprobs is None


def test_multi_process_group_through_a_rendezvous(model, engine, tmp_path):
    """Rank 1 served from a thread, the leader in this one: the same tokens as 1 rank."""
    cfg = {"model_path": model, "world_size": 2, "rendezvous": f"file:{tmp_path}",
           "threads_per_rank": 2, "comm_timeout_ms": 60000}
    failure = []

    def rank1():
        try:
            ringlm.serve({**cfg, "rank": 1})
        except BaseException as e:  # reported below
            failure.append(e)

    import threading
    worker = threading.Thread(target=rank1)
    worker.start()
    try:
        with ringlm.Engine(config={**cfg, "rank": 0}) as leader:
            assert leader.world_size == 2
            [(two, _)] = run_chat(leader, turns=TURNS[:1])
    finally:
        worker.join(120)
    assert not worker.is_alive() and not failure
    [(one, _)] = run_chat(engine, turns=TURNS[:1])
    assert two.tokens == one.tokens and two.stats.world_size == 2
    with pytest.raises(ringlm.InvalidArgumentError):
        ringlm.serve({"model_path": model, "world_size": 2, "rank": 1})  # no rendezvous
