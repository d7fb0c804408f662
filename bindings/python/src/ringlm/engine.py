"""Engine and Session: the Python face of the ringlm C ABI."""

from __future__ import annotations

import json
import os
import threading
import weakref
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar, Union

from . import capi
from . import messages as _m
from .errors import Error, error_from_status
from .messages import ChatResponse, Message, ProgressEvent, Sampling, TextEvent, Transcript

__all__ = ["Engine", "Session", "ChatStream", "serve"]

# How long one wait for an event lasts before Python gets a chance to handle
# signals (Ctrl-C); the request itself is not affected.
_POLL_MS = 200

Request = Union[Mapping[str, Any], bytes, bytearray, memoryview]


def _request_bytes(request: Request) -> tuple[bytes, int]:
    """(bytes, format): a dict in the JSON form, or a FlatBuffer as is."""
    if isinstance(request, Mapping):
        return _m.to_json(request), capi.FORMAT_JSON
    if isinstance(request, (bytes, bytearray, memoryview)):
        return bytes(request), capi.FORMAT_FLATBUFFERS
    raise TypeError(f"a request is a dict (JSON form) or FlatBuffer bytes, not {type(request).__name__}")


def _path(path: str | os.PathLike) -> str:
    p = os.fspath(path)
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    if "\0" in p:
        raise ValueError("a path cannot contain a NUL character")
    return p


_H = TypeVar("_H", bound="_NativeHandle")


class _NativeHandle:
    """The close-once lifetime of an object holding a native handle: the
    context manager protocol, ``closed``, and a release when it is collected
    unclosed. Subclasses set ``_closed = False`` once they hold the handle
    and implement ``close()`` through :meth:`_close`."""

    _closed = True  # until the subclass holds a handle
    _close_lock = threading.Lock()  # one test-and-set for every handle

    def _close(self, release: Callable[[int], Any]) -> None:
        # Two threads may close at once: only one of them releases.
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        release(self._handle)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()  # type: ignore[attr-defined]

    def __del__(self) -> None:
        try:
            self.close()  # type: ignore[attr-defined]
        except Exception:
            pass


class Engine(_NativeHandle):
    """A loaded model and its CP rank group (``world_size`` ranks).

    ``Engine(model_path, world_size=2)`` or ``Engine(config={...})`` with an
    EngineConfig in the JSON form (``model_path``, ``world_size``,
    ``kv_budget_bytes``, ``threads_per_rank``, ...). Use it as a context
    manager, or call :meth:`close`. Thread-safe: any number of threads may
    use one engine; requests of different sessions run one at a time.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *, world_size: int = 1,
                 config: Mapping[str, Any] | bytes | None = None, **options: Any):
        if config is None:
            if model_path is None:
                raise TypeError("Engine needs model_path (or config)")
            config = {"model_path": os.fspath(model_path), "world_size": world_size, **options}
        elif model_path is not None or options:
            raise TypeError("pass either config or model_path and options, not both")
        data, fmt = _request_bytes(config)
        self._handle = capi.engine_create(data, fmt)
        self._closed = False
        self._info: dict | None = None

    # -- lifetime ---------------------------------------------------------
    def close(self) -> None:
        """Releases the engine. Open sessions keep the ranks alive until they
        are closed. Closing twice is a no-op."""
        self._close(capi.engine_destroy)

    # -- queries ----------------------------------------------------------
    def info(self) -> dict:
        """EngineInfo as a dict (version, model, world_size, backend, ...)."""
        return json.loads(capi.engine_info(self._handle, capi.FORMAT_JSON))

    @property
    def world_size(self) -> int:
        return int(self.info()["world_size"])

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        """Token ids of ``text`` with the model's tokenizer."""
        return capi.engine_tokenize(self._handle, text, 1 if add_special else 0)

    def detokenize(self, tokens: Iterable[int]) -> str:
        """Text of ``tokens`` (an incomplete trailing character becomes U+FFFD)."""
        return capi.engine_detokenize(self._handle, list(tokens)).decode("utf-8", "replace")

    # -- sessions ---------------------------------------------------------
    def session(self, system_prompt: str | None = None, *,
                config: Mapping[str, Any] | bytes | None = None) -> "Session":
        """Opens a new session (a conversation with its own KV cache)."""
        if config is None:
            data, fmt = _m.build_session_config(system_prompt), capi.FORMAT_FLATBUFFERS
        else:
            data, fmt = _request_bytes(config)
        return Session(self, capi.session_create(self._handle, data, fmt))

    def restore_session(self, path: str | os.PathLike) -> "Session":
        """Opens a session saved by :meth:`Session.save`."""
        return Session(self, capi.session_restore(self._handle, _path(path)))

    def __repr__(self) -> str:
        return f"<ringlm.Engine {'closed' if self._closed else 'open'}>"


def serve(config: Mapping[str, Any] | bytes) -> None:
    """Runs one non-leader rank of a multi-process group until the leader
    (an :class:`Engine` created with ``rank=0`` and the same ``rendezvous``)
    is closed. ``config`` is an EngineConfig (JSON-form dict or FlatBuffer)
    with ``rendezvous`` set and ``1 <= rank < world_size``. Blocks the
    calling thread (the GIL is released)."""
    data, fmt = _request_bytes(config)
    capi.engine_serve(data, fmt)


class Session(_NativeHandle):
    """One conversation: its transcript and its KV cache, kept across turns.

    One thread uses a session at a time, except :meth:`cancel`, which any
    thread may call. Use it as a context manager, or call :meth:`close`.
    A :class:`ChatStream` dropped before its end (an exception in the loop
    that read it, say) does not block the session: the next call cancels
    its request and waits for its end.
    """

    def __init__(self, engine: Engine, handle: int):
        self._engine = engine  # the engine object outlives its sessions' use
        self._handle = handle
        self._closed = False
        self._stream: weakref.ref | None = None  # the last request's stream
        self._stream_json = False  # ... and whether its events are JSON

    # -- lifetime ---------------------------------------------------------
    def close(self) -> None:
        """Cancels a request in flight and frees the session's KV. Closing
        twice is a no-op; any other call on a closed session raises
        :class:`ringlm.NotFoundError`."""
        self._close(capi.session_close)

    # -- requests ---------------------------------------------------------
    def chat(self, message: str | None = None, *, messages: Sequence[Any] | None = None,
             max_tokens: int = 256, sampling: Sampling | Mapping[str, Any] | None = None,
             stop: Sequence[str] | None = None, variant: Any = None,
             logprobs: bool = False, top_logprobs: int = 0,
             request: Request | None = None) -> "ChatStream":
        """Starts one chat turn and returns its :class:`ChatStream`.

        ``chat("Hi")`` sends one user message; ``messages=[...]`` sends
        several (``Message``, ``{"role": ..., "content": ...}`` or
        ``(role, content)``); ``request=`` sends a ready ChatRequest, a dict
        in the JSON form or FlatBuffer bytes. Only the new messages are
        prefilled: earlier turns stay in the session's KV cache.
        ``logprobs=True`` puts each generated token's log-probability in the
        response's ``logprobs``; ``top_logprobs=k`` (up to 20) adds its k
        likeliest alternatives.
        """
        if request is None:
            msgs = list(messages or [])
            if message is not None:
                msgs.append(Message(_m.Role.USER, message))
            request = _m.build_chat_request(msgs, max_tokens=max_tokens, sampling=sampling,
                                            stop=stop, variant=variant, logprobs=logprobs,
                                            top_logprobs=top_logprobs)
        elif message is not None or messages is not None:
            raise TypeError("pass either request or message/messages, not both")
        data, fmt = _request_bytes(request)
        return self._start(capi.session_chat, data, fmt)

    def generate(self, tokens: Iterable[int] | None = None, *, max_tokens: int = 256,
                 sampling: Sampling | Mapping[str, Any] | None = None,
                 stop: Sequence[str] | None = None, variant: Any = None,
                 want_prompt_logits: bool = False, logprobs: bool = False,
                 top_logprobs: int = 0, request: Request | None = None) -> "ChatStream":
        """Raw mode: appends token ids to the session's history (no chat
        template) and generates. Returns a :class:`ChatStream`."""
        if request is None:
            request = _m.build_generate_request(tokens or [], max_tokens=max_tokens, sampling=sampling,
                                                stop=stop, variant=variant,
                                                want_prompt_logits=want_prompt_logits,
                                                logprobs=logprobs, top_logprobs=top_logprobs)
        data, fmt = _request_bytes(request)
        return self._start(capi.session_generate, data, fmt)

    def cancel(self) -> None:
        """Asks the request in flight to stop (from any thread). It ends with
        a response whose finish_reason is CANCELLED; the session stays usable."""
        capi.session_cancel(self._handle)

    def transcript(self) -> Transcript:
        """The conversation so far and the number of tokens of history."""
        self._end_dropped_stream()
        return _m.decode_transcript(capi.session_transcript(self._handle, capi.FORMAT_FLATBUFFERS))

    def save(self, path: str | os.PathLike) -> None:
        """Writes the session (transcript, history, KV) to ``path`` atomically."""
        self._end_dropped_stream()
        capi.session_save(self._handle, _path(path))

    # -- editing the conversation ------------------------------------------
    def rewind(self, keep_messages: int) -> None:
        """Keeps the first ``keep_messages`` messages of the transcript (the
        system prompt counts as one) and frees the KV of the rest, so the
        next turn prefills only what follows them: ``rewind(n - 2)`` and the
        same question again regenerates the last reply.
        :class:`ringlm.OutOfRangeError` beyond the transcript."""
        self._end_dropped_stream()
        capi.session_rewind(self._handle, int(keep_messages))

    def rewind_tokens(self, keep_tokens: int) -> None:
        """Raw mode: keeps the first ``keep_tokens`` tokens of the token
        history; the transcript is not changed."""
        self._end_dropped_stream()
        capi.session_rewind_tokens(self._handle, int(keep_tokens))

    def fork(self) -> "Session":
        """A new session continuing from this one: the same transcript and
        history and a copy of its KV on every rank (its next turn prefills
        only its own tokens). The copy shares this session's KV pages until
        either writes into one. The two are independent afterwards."""
        self._end_dropped_stream()
        return Session(self._engine, capi.session_fork(self._handle))

    def _start(self, call: Callable[[int, bytes, int], Any], data: bytes, fmt: int) -> "ChatStream":
        self._end_dropped_stream()
        call(self._handle, data, fmt)
        stream = ChatStream(self, fmt == capi.FORMAT_JSON)
        self._stream = weakref.ref(stream)
        self._stream_json = fmt == capi.FORMAT_JSON
        return stream

    def _end_dropped_stream(self) -> None:
        """A stream collected before its end left its request in flight:
        cancels the request and pulls its events to the end, so the session
        takes the next call. A stream still referenced is its owner's."""
        ref, self._stream = self._stream, None
        if ref is None:
            return
        if ref() is not None:
            self._stream = ref
            return
        try:
            capi.session_cancel(self._handle)
            while True:
                data = capi.session_next_event(self._handle, -1)
                if data is None:
                    continue
                if self._stream_json:
                    data = capi.message_convert(capi.MESSAGE_EVENT, data, capi.FORMAT_JSON,
                                                capi.FORMAT_FLATBUFFERS)
                if _m.decode_event(data)[0] in (_m.DONE, _m.ERROR):
                    return
        except Error:  # no request in flight (it had ended), or the session closed
            return

    def _next_event(self, timeout_ms: int) -> bytes | None:
        return capi.session_next_event(self._handle, timeout_ms)

    def __repr__(self) -> str:
        return f"<ringlm.Session {'closed' if self._closed else 'open'}>"


class ChatStream:
    """The events of one request, then its response.

    Iterate it for :class:`TextEvent` and :class:`ProgressEvent` values; the
    iteration ends at the request's end, and :attr:`response` then holds the
    :class:`ChatResponse`. :meth:`result` skips to it. A failed request
    raises its :class:`ringlm.Error` from the iteration (the session stays
    usable). Leaving a ``with`` block early, or a KeyboardInterrupt during
    the iteration, cancels the request and waits for its end, so the session
    is ready for the next turn.
    """

    def __init__(self, session: Session, json_format: bool):
        self._session = session
        self._json = json_format
        self._response: ChatResponse | None = None
        self._error: Error | None = None
        self._done = False
        self._lock = threading.Lock()  # guards pulling events (one puller at a time)

    @property
    def response(self) -> ChatResponse | None:
        """The response once the request has ended, else None."""
        return self._response

    @property
    def done(self) -> bool:
        return self._done

    def __iter__(self) -> Iterator[TextEvent | ProgressEvent]:
        return self

    def __next__(self) -> TextEvent | ProgressEvent:
        with self._lock:
            if self._done:
                if self._error is not None:
                    raise self._error
                raise StopIteration
            while True:
                try:
                    data = self._session._next_event(_POLL_MS)
                    if data is None:
                        continue
                except Error:
                    raise
                except BaseException:  # KeyboardInterrupt and the like: stop the request
                    self._abort()
                    raise
                kind, payload = self._decode(data)
                if kind == _m.DONE:
                    self._done = True
                    self._response = payload
                    raise StopIteration
                if kind == _m.ERROR:
                    self._done = True
                    status, message = payload
                    self._error = error_from_status(status, message)
                    raise self._error
                if kind in (_m.TEXT, _m.PROGRESS):
                    return payload
                # An event kind newer than this binding: not terminal, skipped.

    def _decode(self, data: bytes):
        if self._json:
            data = capi.message_convert(capi.MESSAGE_EVENT, data, capi.FORMAT_JSON,
                                        capi.FORMAT_FLATBUFFERS)
        return _m.decode_event(data)

    def _abort(self) -> None:
        """Cancels the request and drains it (after an interrupt)."""
        if self._done:
            return
        try:
            self._session.cancel()
            while True:
                data = self._session._next_event(-1)
                if data is None:
                    continue
                kind, payload = self._decode(data)
                if kind == _m.DONE:
                    self._response = payload
                    break
                if kind == _m.ERROR:
                    status, message = payload
                    self._error = error_from_status(status, message)
                    break
        except Error as e:  # the session closed under us, say
            self._error = e
        self._done = True

    def result(self) -> ChatResponse:
        """Consumes the remaining events and returns the response (raises the
        request's :class:`ringlm.Error` if it failed)."""
        for _ in self:
            pass
        if self._response is None:
            if self._error is not None:
                raise self._error
            raise Error("the request ended without a response")
        return self._response

    def text(self) -> str:
        """The whole reply: ``result().text``."""
        return self.result().text

    def cancel(self) -> None:
        """Asks the request to stop (any thread); iteration then ends soon."""
        if not self._done:
            self._session.cancel()

    def __enter__(self) -> "ChatStream":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if not self._done:
            with self._lock:
                self._abort()

    def __repr__(self) -> str:
        state = "done" if self._done else "running"
        return f"<ringlm.ChatStream {state}>"
