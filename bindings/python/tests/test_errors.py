"""Malformed requests and closed handles raise ringlm.Error, never crash."""

import pytest

import ringlm
from ringlm import capi


def test_error_hierarchy_carries_the_status():
    e = ringlm.errors.error_from_status(capi.STATUS_INVALID_ARGUMENT, "bad")
    assert isinstance(e, ringlm.InvalidArgumentError) and isinstance(e, ValueError)
    assert e.status == 1 and e.status_name == "INVALID_ARGUMENT" and e.message == "bad"
    assert type(ringlm.errors.error_from_status(99, "?")) is ringlm.Error
    assert isinstance(ringlm.errors.error_from_status(6, "io"), OSError)


def test_malformed_requests(engine):
    with engine.session() as s:
        with pytest.raises(ringlm.CorruptDataError) as err:
            s.chat(request=b"definitely not a flatbuffer")
        assert err.value.status == capi.STATUS_CORRUPT_DATA
        with pytest.raises(ringlm.CorruptDataError):
            s.chat(request={"messages": [{"role": "Nobody", "content": "x"}]})
        with pytest.raises(ringlm.InvalidArgumentError):
            s.chat(request={"messages": []})
        with pytest.raises(ringlm.InvalidArgumentError):
            s.chat("hi", max_tokens=-1)
        # A SessionConfig where a ChatRequest belongs: the wrong message type.
        cfg = ringlm.messages.build_session_config("system")
        with pytest.raises(ringlm.InvalidArgumentError):
            s.chat(request=cfg)
        vocab = engine.info()["model"]["vocab"]
        with pytest.raises(ringlm.InvalidArgumentError):
            s.generate([vocab + 5], max_tokens=1)
        with pytest.raises(TypeError):
            s.chat(request=12345)
        # The session is still fine after all that.
        assert s.chat("Hi", max_tokens=2).result().stats.generated_tokens > 0


def test_request_in_flight(engine):
    with engine.session() as s:
        stream = s.chat("Count to ten.", max_tokens=4)
        with pytest.raises(ringlm.FailedPreconditionError):
            s.chat("again")
        with pytest.raises(ringlm.FailedPreconditionError):
            s.transcript()
        stream.result()
        with pytest.raises(ringlm.FailedPreconditionError):
            s._next_event(0)  # nothing in flight any more


def test_closed_handles(model):
    e = ringlm.Engine(model, threads_per_rank=2)
    s = e.session()
    s.close()
    s.close()  # a second close is a no-op
    with pytest.raises(ringlm.NotFoundError) as err:
        s.chat("hello")
    assert err.value.status == capi.STATUS_NOT_FOUND
    with pytest.raises(ringlm.NotFoundError):
        s.cancel()
    with pytest.raises(ringlm.NotFoundError):
        s.transcript()
    e.close()
    e.close()
    with pytest.raises(ringlm.NotFoundError):
        e.session()
    with pytest.raises(ringlm.NotFoundError):
        e.tokenize("x")


def test_bad_engine_configs(model, tmp_path):
    with pytest.raises(ringlm.NotFoundError):
        ringlm.Engine(str(tmp_path / "missing.gguf"))
    with pytest.raises(ringlm.InvalidArgumentError):
        ringlm.Engine(model, world_size=0)
    with pytest.raises(ringlm.Error):
        ringlm.Engine(model, kv_cache_type="F16")  # not a KvCacheType
    with pytest.raises(ringlm.Error):
        ringlm.Engine(model, weight_type="Q4_K")  # not a WeightType
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 60)
    with pytest.raises(ringlm.Error) as err:
        ringlm.Engine(str(bad))
    assert err.value.status in (capi.STATUS_CORRUPT_DATA, capi.STATUS_UNSUPPORTED)
    with pytest.raises(ringlm.CorruptDataError):
        ringlm.Engine(config=b"\x00" * 16)
    with pytest.raises(TypeError):
        ringlm.Engine()


def test_raw_module_raises_too():
    with pytest.raises(ringlm.InvalidArgumentError):
        capi.message_convert(capi.MESSAGE_CHAT_REQUEST, b"{}", 7, capi.FORMAT_JSON)
    with pytest.raises(ringlm.NotFoundError):
        capi.session_cancel(12345)
    assert capi.status_name(capi.STATUS_OUT_OF_RANGE) == "OUT_OF_RANGE"
