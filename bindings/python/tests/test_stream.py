"""ChatStream's handling of what a pull returns, against a scripted session:
a failed pull that leaves the request running does not end the stream, and
event kinds newer than the binding are skipped, not taken for errors."""

import flatbuffers
import pytest

import ringlm
from ringlm import messages
from ringlm.api import Event as fb_event
from ringlm.engine import ChatStream


def _event(kind, text=None):
    b = flatbuffers.Builder(64)
    t = b.CreateString(text) if text is not None else None
    fb_event.EventStart(b)
    fb_event.EventAddKind(b, kind)
    if t is not None:
        fb_event.EventAddText(b, t)
    b.Finish(fb_event.EventEnd(b))
    return bytes(b.Output())


class ScriptedSession:
    """Hands out the scripted pulls in order; an exception is raised."""

    def __init__(self, pulls):
        self.pulls = list(pulls)
        self.cancelled = False

    def _next_event(self, timeout_ms):
        item = self.pulls.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def cancel(self):
        self.cancelled = True


def test_a_failed_pull_leaves_the_stream_open_and_unknown_kinds_are_skipped():
    oom = ringlm.errors.error_from_status(7, "out of memory for the event")
    session = ScriptedSession([oom, None, _event(9), _event(messages.TEXT, "hi"),
                               _event(messages.DONE)])
    stream = ChatStream(session, json_format=False)
    with pytest.raises(ringlm.ResourceExhaustedError):
        next(stream)
    assert not stream.done
    ev = next(stream)  # the unknown kind 9 is skipped
    assert isinstance(ev, messages.TextEvent) and ev.text == "hi"
    with pytest.raises(StopIteration):
        next(stream)
    assert stream.done and stream.response is not None
    assert not session.pulls and not session.cancelled


def test_an_error_event_ends_the_stream():
    b = flatbuffers.Builder(64)
    msg = b.CreateString("the ring broke")
    fb_event.EventStart(b)
    fb_event.EventAddKind(b, messages.ERROR)
    fb_event.EventAddStatus(b, 9)
    fb_event.EventAddMessage(b, msg)
    b.Finish(fb_event.EventEnd(b))
    stream = ChatStream(ScriptedSession([bytes(b.Output())]), json_format=False)
    with pytest.raises(ringlm.UnavailableError):
        next(stream)
    assert stream.done
    with pytest.raises(ringlm.UnavailableError):  # the same error again
        next(stream)
