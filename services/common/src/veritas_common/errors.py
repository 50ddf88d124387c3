"""Domain errors and the gRPC status code each one maps to.

Services raise these; the server interceptor turns them into gRPC statuses and clients turn
statuses back into them, so an error keeps its meaning across every hop.
"""

from __future__ import annotations

import grpc


class VeritasError(Exception):
    """Base class: an error with a message meant for the caller."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(VeritasError):
    """The request is malformed (bad file, empty question, invalid schema)."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(VeritasError):
    """A referenced id does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class TooLarge(VeritasError):
    """The request exceeds a configured size limit."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(VeritasError):
    """The system is not in a state to serve the request (e.g. model not loaded)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class PeerUnavailable(VeritasError):
    """A service this one depends on cannot be reached."""

    code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, peer: str, detail: str = "") -> None:
        super().__init__(f"{peer} service unavailable" + (f": {detail}" if detail else ""))
        self.peer = peer


_BY_CODE: dict[grpc.StatusCode, type[VeritasError]] = {
    cls.code: cls for cls in (InvalidArgument, NotFound, TooLarge, FailedPrecondition)
}


def from_status(code: grpc.StatusCode, details: str, peer: str) -> VeritasError:
    """Rebuilds the domain error a peer reported, so it propagates with its meaning."""
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return PeerUnavailable(peer, details or code.name)
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(details)
    return VeritasError(f"{peer} failed: {code.name}: {details}")
