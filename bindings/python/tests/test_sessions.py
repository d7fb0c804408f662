"""Cancellation from another thread, save/restore, many sessions at once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import ringlm
from conftest import MAX_TOKENS, TURNS


def test_cancel_from_another_thread(engine):
    with engine.session() as s:
        stream = s.chat("Tell me a long story about a dragon.", max_tokens=200)
        canceller = None
        texts = 0
        for ev in stream:
            if isinstance(ev, ringlm.TextEvent):
                texts += 1
                if canceller is None:
                    canceller = threading.Thread(target=s.cancel)
                    canceller.start()
        canceller.join()
        resp = stream.response
        assert resp.finish_reason == ringlm.FinishReason.CANCELLED
        assert 0 < resp.stats.generated_tokens < 200
        # The session stays usable and still holds the cancelled turn's KV.
        nxt = s.chat("Hi", max_tokens=2).result()
        assert nxt.finish_reason != ringlm.FinishReason.CANCELLED
        assert nxt.stats.generated_tokens > 0


def test_leaving_a_stream_early_cancels_it(engine):
    with engine.session() as s:
        with s.chat("Tell me a long story.", max_tokens=200) as stream:
            for ev in stream:
                if isinstance(ev, ringlm.TextEvent):
                    break
        assert stream.done and stream.response.finish_reason == ringlm.FinishReason.CANCELLED
        assert s.chat("Hi", max_tokens=2).result().stats.generated_tokens > 0


def test_a_stream_whose_session_closes_reports_it(engine):
    s = engine.session()
    stream = s.chat("Tell me a long story.", max_tokens=200)
    with pytest.raises(ringlm.Error):
        with stream:
            for ev in stream:
                if isinstance(ev, ringlm.TextEvent):
                    closer = threading.Thread(target=s.close)
                    closer.start()
                    closer.join()
    assert stream.done
    with pytest.raises(ringlm.Error):  # the status, not a bare assertion
        stream.result()


def test_two_threads_closing_one_session(engine):
    for _ in range(20):
        s = engine.session()
        errors = []

        def close():
            try:
                s.close()
            except ringlm.Error as e:  # pragma: no cover - the failure this guards
                errors.append(e)

        threads = [threading.Thread(target=close) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and s.closed


def test_save_and_restore(engine, tmp_path):
    path = tmp_path / "chat.session"
    with engine.session() as a:
        a.chat(TURNS[0], max_tokens=MAX_TOKENS).result()
        a.save(path)
        assert path.stat().st_size > 0
        with engine.restore_session(path) as b:
            assert_continue_alike(a, b)


def assert_continue_alike(a, b):
    """b (restored or forked from a) holds a's transcript and answers the
    next turn as a does, from a KV of its own."""
    assert b.transcript() == a.transcript()
    ra = a.chat(TURNS[2], max_tokens=MAX_TOKENS).result()
    rb = b.chat(TURNS[2], max_tokens=MAX_TOKENS).result()
    assert ra.tokens == rb.tokens
    assert rb.stats.cached_tokens == ra.stats.cached_tokens > 0
    assert not rb.stats.rebuilt


def test_restore_errors(engine, tmp_path):
    with pytest.raises(ringlm.NotFoundError):
        engine.restore_session(tmp_path / "nope")
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a session file at all" * 10)
    with pytest.raises(ringlm.CorruptDataError):
        engine.restore_session(junk)


def test_many_sessions_from_many_threads(engine):
    prompts = [f"Say the number {i % 3}." for i in range(6)]

    def converse(prompt):
        with engine.session() as s:
            first = s.chat(prompt, max_tokens=3).result()
            second = s.chat("Thanks.", max_tokens=2).result()
            return first, second

    with ThreadPoolExecutor(max_workers=len(prompts)) as pool:
        results = list(pool.map(converse, prompts))
    for i, (first, second) in enumerate(results):
        assert first.stats.generated_tokens > 0
        assert second.stats.cached_tokens > 0
        # Greedy decoding: the same prompt gives the same tokens in any thread.
        assert first.tokens == results[i % 3][0].tokens


def test_a_stream_dropped_before_its_end_does_not_block_the_session(engine):
    with engine.session() as s:
        def read_one_event():
            for _ in s.chat("Tell me a long story about a dragon.", max_tokens=200):
                raise RuntimeError("the host's code failed mid-stream")
        try:
            read_one_event()
        except RuntimeError:
            pass
        # The stream is gone with the frame that read it; its request was
        # still running. The next calls cancel it and go on.
        assert len(s.transcript().messages) == 2  # the cancelled turn joined it
        nxt = s.chat("Hi", max_tokens=2).result()
        assert nxt.finish_reason != ringlm.FinishReason.CANCELLED
        assert nxt.stats.generated_tokens > 0
        assert len(s.transcript().messages) == 4
        # A stream still held is its owner's: a second request is refused.
        held = s.chat("Once more", max_tokens=50)
        with pytest.raises(ringlm.FailedPreconditionError):
            s.chat("Too soon", max_tokens=2)
        held.result()


def test_rewind_regenerates_from_the_cached_prefix(engine2):
    with engine2.session(system_prompt="You are terse.") as s:
        s.chat(TURNS[0], max_tokens=MAX_TOKENS).result()
        first = s.chat(TURNS[2], max_tokens=MAX_TOKENS).result()
        before = s.transcript().messages
        assert len(before) == 5
        s.rewind(3)
        assert s.transcript().messages == before[:3]
        again = s.chat(TURNS[2], max_tokens=MAX_TOKENS).result()
        assert again.tokens == first.tokens
        assert again.stats.cached_tokens >= first.stats.cached_tokens > 0
        with pytest.raises(ringlm.OutOfRangeError):
            s.rewind(6)
        s.rewind_tokens(0)
        assert s.transcript().token_count == 0


def test_fork_continues_on_its_own_kv(engine2):
    with engine2.session() as a:
        a.chat(TURNS[0], max_tokens=MAX_TOKENS).result()
        with a.fork() as b:
            assert_continue_alike(a, b)
            a.rewind(0)
            assert len(b.transcript().messages) == 4


def test_prefix_sharing_between_sessions(model):
    """A second session over the same system prompt copies the first's KV of it."""
    system = "You answer questions about this text. " + "The quick brown fox jumps. " * 8
    with ringlm.Engine(model, world_size=2, threads_per_rank=2, share_prefix_min_tokens=16) as e:
        with e.session(system_prompt=system) as a, e.session(system_prompt=system) as b:
            ra = a.chat(TURNS[0], max_tokens=MAX_TOKENS).result()
            rb = b.chat(TURNS[0], max_tokens=MAX_TOKENS).result()
            assert ra.stats.shared_tokens == 0
            assert rb.stats.shared_tokens > 16 and rb.stats.new_tokens < ra.stats.new_tokens
            assert rb.tokens == ra.tokens
    with ringlm.Engine(model, share_prefix_min_tokens=0, threads_per_rank=2) as e:
        with e.session(system_prompt=system) as a, e.session(system_prompt=system) as b:
            a.chat(TURNS[0], max_tokens=2).result()
            assert b.chat(TURNS[0], max_tokens=2).result().stats.shared_tokens == 0
