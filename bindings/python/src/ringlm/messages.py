"""Python values of the ringlm messages, and their FlatBuffers / JSON codecs.

Requests are built either with the flatc-generated classes in
:mod:`ringlm.api` (FlatBuffers, the default) or from plain dicts in the
schemas' JSON form (``{"messages": [{"role": "User", "content": "Hi"}],
"max_tokens": 32}``). Events and responses come back in the request's
format; JSON ones are turned into FlatBuffers by the library
(``capi.message_convert``), so one decoder, over the flatc-generated
classes, reads them all into the dataclasses below.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence, Union

import flatbuffers

from .api import ChatRequest as _ChatRequest
from .api import GenerateRequest as _GenerateRequest
from .api import Message as _Message
from .api import Sampling as _Sampling
from .api import SessionConfig as _SessionConfig
from .api.Event import Event as _Event
from .api.Transcript import Transcript as _Transcript

__all__ = [
    "Role", "FinishReason", "CpVariant", "Message", "Sampling", "TurnStats",
    "ChatResponse", "TextEvent", "ProgressEvent", "Transcript",
]

# File identifiers of the schemas (capi/schemas/*.fbs).
CHAT_REQUEST_ID = b"RLCQ"
GENERATE_REQUEST_ID = b"RLGQ"
SESSION_CONFIG_ID = b"RLSC"


class Role(str, enum.Enum):
    """Who wrote a chat message (values: the schema's enum names)."""
    USER = "User"
    ASSISTANT = "Assistant"
    SYSTEM = "System"


class FinishReason(str, enum.Enum):
    """Why generation stopped."""
    STOP = "Stop"
    LENGTH = "Length"
    CANCELLED = "Cancelled"
    CONTEXT_FULL = "ContextFull"  # context length, or every rank's whole KV budget, reached


class CpVariant(str, enum.Enum):
    """Prefill ring variant a request may force."""
    AUTO = "Auto"
    PASS_KV = "PassKV"
    PASS_Q = "PassQ"


_ROLES = list(Role)
_FINISH = list(FinishReason)
_VARIANTS = list(CpVariant)


@dataclass(frozen=True)
class Message:
    """One chat message."""
    role: Role
    content: str

    @staticmethod
    def of(value: Union["Message", Mapping[str, Any], Sequence[str]]) -> "Message":
        """A Message from a Message, a ``{"role", "content"}`` dict or a pair."""
        if isinstance(value, Message):
            return value
        if isinstance(value, Mapping):
            return Message(_role(value.get("role", Role.USER)), str(value.get("content", "")))
        role, content = value
        return Message(_role(role), str(content))


@dataclass(frozen=True)
class Sampling:
    """Token sampling; the defaults are greedy decoding."""
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    repetition_window: int = 64
    seed: int = 0


@dataclass(frozen=True)
class TurnStats:
    """Statistics of one request: T new tokens prefilled, P reused from the KV."""
    world_size: int = 0
    variant: str = ""
    decode_variant: str = ""
    new_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    prefill_ms: float = 0.0
    decode_ms: float = 0.0
    prefill_tok_s: float = 0.0
    decode_tok_s: float = 0.0
    comm_hidden_ms: float = 0.0
    comm_exposed_ms: float = 0.0
    bytes_sent: tuple = ()
    kv_tokens: tuple = ()
    evictions: int = 0
    rebuilt: bool = False
    kv_bytes: tuple = ()  # bytes each rank's KV store holds (all its sessions)
    shared_tokens: int = 0  # of cached_tokens, copied from another session's KV


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token's log-probability under the model's distribution
    (softmax of its logits: before temperature, penalties or truncation) and
    the most likely alternatives at that step, most likely first."""
    token: int
    logprob: float
    top: tuple = ()  # ((token, logprob), ...)


@dataclass(frozen=True)
class ChatResponse:
    """The result of a request (its Done event)."""
    text: str
    tokens: tuple
    finish_reason: FinishReason
    stats: TurnStats
    prompt_logits: tuple | None = None
    logprobs: tuple | None = None  # TokenLogprob per token, when asked for


@dataclass(frozen=True)
class TextEvent:
    """A piece of generated text and the token ids it came from."""
    text: str
    tokens: tuple


@dataclass(frozen=True)
class ProgressEvent:
    """Prompt tokens prefilled so far out of the request's total."""
    done: int
    total: int


@dataclass(frozen=True)
class Transcript:
    """A session's conversation so far."""
    messages: tuple = field(default_factory=tuple)
    token_count: int = 0


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------

def _role(value: Any) -> Role:
    if isinstance(value, Role):
        return value
    if isinstance(value, str):
        for r in Role:
            if value.lower() == r.value.lower():
                return r
    raise ValueError(f"unknown role {value!r} (User, Assistant or System)")


def _variant(value: Any) -> CpVariant:
    if value is None:
        return CpVariant.AUTO
    if isinstance(value, CpVariant):
        return value
    for v in CpVariant:
        if str(value).lower().replace("-", "").replace("_", "") == v.value.lower():
            return v
    raise ValueError(f"unknown CP variant {value!r} (auto, pass-kv or pass-q)")


def _sampling(b: flatbuffers.Builder, s: Sampling | Mapping[str, Any]) -> int:
    if isinstance(s, Mapping):
        s = Sampling(**s)
    _Sampling.Start(b)
    _Sampling.AddTemperature(b, float(s.temperature))
    _Sampling.AddTopK(b, int(s.top_k))
    _Sampling.AddTopP(b, float(s.top_p))
    _Sampling.AddMinP(b, float(s.min_p))
    _Sampling.AddRepetitionPenalty(b, float(s.repetition_penalty))
    _Sampling.AddRepetitionWindow(b, int(s.repetition_window))
    _Sampling.AddSeed(b, int(s.seed))
    return _Sampling.End(b)


def _strings(b: flatbuffers.Builder, start_vector, items: Sequence[str]) -> int:
    offsets = [b.CreateString(x) for x in items]
    start_vector(b, len(offsets))
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _shared_request_fields(b, table, max_tokens, sampling, stop, variant, logprobs=False,
                           top_logprobs=0):
    """The fields ChatRequest and GenerateRequest share: builds their objects
    (before the table is started) and returns what adds them to the started
    table."""
    sampling_off = _sampling(b, sampling) if sampling is not None else None
    stop_vec = _strings(b, table.StartStopVector, list(stop)) if stop else None

    def add():
        table.AddLogprobs(b, bool(logprobs))
        table.AddTopLogprobs(b, int(top_logprobs))
        if sampling_off is not None:
            table.AddSampling(b, sampling_off)
        table.AddMaxTokens(b, int(max_tokens))
        if stop_vec is not None:
            table.AddStop(b, stop_vec)
        table.AddVariant(b, _VARIANTS.index(_variant(variant)))

    return add


def build_chat_request(messages: Iterable[Any], *, max_tokens: int = 256,
                       sampling: Sampling | Mapping[str, Any] | None = None,
                       stop: Sequence[str] | None = None, variant: Any = None,
                       logprobs: bool = False, top_logprobs: int = 0) -> bytes:
    """A ChatRequest FlatBuffer built with the flatc-generated classes."""
    msgs = [Message.of(m) for m in messages]
    b = flatbuffers.Builder(256)
    msg_offsets = []
    for m in msgs:
        content = b.CreateString(m.content)
        _Message.Start(b)
        _Message.AddRole(b, _ROLES.index(m.role))
        _Message.AddContent(b, content)
        msg_offsets.append(_Message.End(b))
    _ChatRequest.StartMessagesVector(b, len(msg_offsets))
    for off in reversed(msg_offsets):
        b.PrependUOffsetTRelative(off)
    messages_vec = b.EndVector()
    add_shared = _shared_request_fields(b, _ChatRequest, max_tokens, sampling, stop, variant,
                                        logprobs, top_logprobs)
    _ChatRequest.Start(b)
    _ChatRequest.AddMessages(b, messages_vec)
    add_shared()
    b.Finish(_ChatRequest.End(b), file_identifier=CHAT_REQUEST_ID)
    return bytes(b.Output())


def build_generate_request(tokens: Iterable[int], *, max_tokens: int = 256,
                           sampling: Sampling | Mapping[str, Any] | None = None,
                           stop: Sequence[str] | None = None, variant: Any = None,
                           want_prompt_logits: bool = False, logprobs: bool = False,
                           top_logprobs: int = 0) -> bytes:
    """A GenerateRequest FlatBuffer (raw token ids, no chat template)."""
    ids = [int(t) for t in tokens]
    b = flatbuffers.Builder(64 + 4 * len(ids))
    _GenerateRequest.StartTokensVector(b, len(ids))
    for t in reversed(ids):
        b.PrependInt32(t)
    tokens_vec = b.EndVector()
    add_shared = _shared_request_fields(b, _GenerateRequest, max_tokens, sampling, stop, variant,
                                        logprobs, top_logprobs)
    _GenerateRequest.Start(b)
    _GenerateRequest.AddTokens(b, tokens_vec)
    add_shared()
    _GenerateRequest.AddWantPromptLogits(b, bool(want_prompt_logits))
    b.Finish(_GenerateRequest.End(b), file_identifier=GENERATE_REQUEST_ID)
    return bytes(b.Output())


def build_session_config(system_prompt: str | None) -> bytes | None:
    """A SessionConfig FlatBuffer; None (the defaults) without a system prompt."""
    if not system_prompt:
        return None
    b = flatbuffers.Builder(64 + len(system_prompt))
    text = b.CreateString(system_prompt)
    _SessionConfig.Start(b)
    _SessionConfig.AddSystemPrompt(b, text)
    b.Finish(_SessionConfig.End(b), file_identifier=SESSION_CONFIG_ID)
    return bytes(b.Output())


def to_json(value: Mapping[str, Any]) -> bytes:
    """A dict in the schemas' JSON form, as the UTF-8 bytes the C ABI takes."""
    def default(o: Any) -> Any:
        if isinstance(o, enum.Enum):
            return o.value
        if isinstance(o, (Message, Sampling)):
            return {k: default(v) if isinstance(v, enum.Enum) else v for k, v in o.__dict__.items()}
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")
    return json.dumps(value, default=default, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------
# Events, responses, transcripts
# ---------------------------------------------------------------------------

# Event kinds (event.fbs EventKind).
TEXT, PROGRESS, DONE, ERROR = 0, 1, 2, 3


def _str(b: bytes | None) -> str:
    return b.decode("utf-8", "replace") if b else ""


def _stats_fb(s) -> TurnStats:
    if s is None:
        return TurnStats()
    return TurnStats(
        world_size=s.WorldSize(), variant=_str(s.Variant()), decode_variant=_str(s.DecodeVariant()),
        new_tokens=s.NewTokens(), cached_tokens=s.CachedTokens(),
        generated_tokens=s.GeneratedTokens(), prefill_ms=s.PrefillMs(), decode_ms=s.DecodeMs(),
        prefill_tok_s=s.PrefillTokS(), decode_tok_s=s.DecodeTokS(),
        comm_hidden_ms=s.CommHiddenMs(), comm_exposed_ms=s.CommExposedMs(),
        bytes_sent=tuple(s.BytesSent(i) for i in range(s.BytesSentLength())),
        kv_tokens=tuple(s.KvTokens(i) for i in range(s.KvTokensLength())),
        evictions=s.Evictions(), rebuilt=bool(s.Rebuilt()),
        kv_bytes=tuple(s.KvBytes(i) for i in range(s.KvBytesLength())),
        shared_tokens=s.SharedTokens())


def _response_fb(r) -> ChatResponse:
    logits = None
    if not r.PromptLogitsIsNone():
        logits = tuple(r.PromptLogits(i) for i in range(r.PromptLogitsLength()))
    logprobs = None
    if not r.LogprobsIsNone():
        logprobs = tuple(_logprob_fb(r.Logprobs(i)) for i in range(r.LogprobsLength()))
    return ChatResponse(
        text=_str(r.Text()), tokens=tuple(r.Tokens(i) for i in range(r.TokensLength())),
        finish_reason=_FINISH[r.FinishReason()] if r.FinishReason() < len(_FINISH) else FinishReason.STOP,
        stats=_stats_fb(r.Stats()), prompt_logits=logits, logprobs=logprobs)


def _logprob_fb(t) -> TokenLogprob:
    top = tuple((t.TopTokens(k), t.TopLogprobs(k))
                for k in range(min(t.TopTokensLength(), t.TopLogprobsLength())))
    return TokenLogprob(token=t.Token(), logprob=t.Logprob(), top=top)


def decode_event(data: bytes):
    """(kind, payload) of an Event FlatBuffer: a TextEvent, ProgressEvent,
    ChatResponse or, for an Error event, (status, message); None for a kind
    this binding does not know (a newer library's: not terminal)."""
    ev = _Event.GetRootAs(data, 0)
    kind = ev.Kind()
    if kind == TEXT:
        return kind, TextEvent(_str(ev.Text()), tuple(ev.Tokens(i) for i in range(ev.TokensLength())))
    if kind == PROGRESS:
        return kind, ProgressEvent(ev.PrefillDone(), ev.PrefillTotal())
    if kind == DONE:
        r = ev.Response()
        return kind, (_response_fb(r) if r is not None else
                      ChatResponse("", (), FinishReason.STOP, TurnStats()))
    if kind == ERROR:
        return kind, (ev.Status(), _str(ev.Message()))
    return kind, None


def decode_transcript(data: bytes) -> Transcript:
    t = _Transcript.GetRootAs(data, 0)
    msgs = []
    for i in range(t.MessagesLength()):
        m = t.Messages(i)
        role = _ROLES[m.Role()] if m.Role() < len(_ROLES) else Role.USER
        msgs.append(Message(role, _str(m.Content())))
    return Transcript(tuple(msgs), t.TokenCount())
