"""The ringlm.Error hierarchy: one class per C ABI status code.

Every failure of the library is raised as a subclass of :class:`Error`
carrying the status code (``err.status``, an ``int``; ``err.status_name``,
e.g. ``"INVALID_ARGUMENT"``) and the library's message. Where a Python
built-in exception means the same thing, the class derives from it too
(``InvalidArgumentError`` is a ``ValueError``, ``NotFoundError`` a
``LookupError``, ...), so generic handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "Error",
    "InvalidArgumentError",
    "NotFoundError",
    "OutOfRangeError",
    "CorruptDataError",
    "UnsupportedError",
    "IoError",
    "ResourceExhaustedError",
    "DeadlineExceededError",
    "UnavailableError",
    "CancelledError",
    "FailedPreconditionError",
    "InternalError",
    "error_from_status",
]


class Error(Exception):
    """A ringlm failure: ``status`` (the C ABI status code) and ``message``."""

    status: int = -1
    status_name: str = "UNKNOWN"

    def __init__(self, message: str = "", status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
            self.status_name = _NAMES.get(status, "UNKNOWN")

    def __str__(self) -> str:
        return f"{self.status_name}: {self.message}" if self.message else self.status_name

    def __reduce__(self):
        return (error_from_status, (self.status, self.message))


class InvalidArgumentError(Error, ValueError):
    """The caller passed something invalid (a bad value, a missing field)."""
    status, status_name = 1, "INVALID_ARGUMENT"


class NotFoundError(Error, LookupError):
    """A closed or unknown handle, a missing model or save file."""
    status, status_name = 2, "NOT_FOUND"


class OutOfRangeError(Error, ValueError):
    """A length beyond a limit (message size, the model's context)."""
    status, status_name = 3, "OUT_OF_RANGE"


class CorruptDataError(Error, ValueError):
    """Bytes that fail validation: a malformed message, a damaged file."""
    status, status_name = 4, "CORRUPT_DATA"


class UnsupportedError(Error, NotImplementedError):
    """Valid input this build cannot handle."""
    status, status_name = 5, "UNSUPPORTED"


class IoError(Error, OSError):
    """The operating system refused a read, write or mapping."""
    status, status_name = 6, "IO_ERROR"


class ResourceExhaustedError(Error, MemoryError):
    """Memory or the KV budget is exhausted."""
    status, status_name = 7, "RESOURCE_EXHAUSTED"


class DeadlineExceededError(Error, TimeoutError):
    """A communication deadline passed."""
    status, status_name = 8, "DEADLINE_EXCEEDED"


class UnavailableError(Error, ConnectionError):
    """A peer rank disappeared; the engine cannot run requests any more."""
    status, status_name = 9, "UNAVAILABLE"


class CancelledError(Error):
    """The operation was cancelled (e.g. the session was closed meanwhile)."""
    status, status_name = 10, "CANCELLED"


class FailedPreconditionError(Error):
    """Wrong state for the call (e.g. a request is already in flight)."""
    status, status_name = 11, "FAILED_PRECONDITION"


class InternalError(Error):
    """A bug in ringlm: an invariant did not hold."""
    status, status_name = 12, "INTERNAL"


_CLASSES = {
    cls.status: cls
    for cls in (
        InvalidArgumentError, NotFoundError, OutOfRangeError, CorruptDataError,
        UnsupportedError, IoError, ResourceExhaustedError, DeadlineExceededError,
        UnavailableError, CancelledError, FailedPreconditionError, InternalError,
    )
}
_NAMES = {status: cls.status_name for status, cls in _CLASSES.items()}


def error_from_status(status: int, message: str) -> Error:
    """The Error instance for a C ABI status code (an unknown code: Error)."""
    cls = _CLASSES.get(int(status))
    if cls is None:
        return Error(message, int(status))
    return cls(message)
