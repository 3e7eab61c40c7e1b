"""One exception hierarchy for the embedded repository and the remote client
(docs/repository.md §11.2). The server maps these to gRPC status codes; the client
maps status details back to the same class with the same attributes."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One problem with one record or argument (docs/repository.md §4.1)."""

    index: int
    pack_id: str | None
    field: str
    reason: str
    message: str

    def to_dict(self) -> dict:
        return {"index": self.index, "pack_id": self.pack_id, "field": self.field,
                "reason": self.reason, "message": self.message}


class DataPackError(Exception):
    """Base error: `code` (gRPC status name), `reason` (machine-readable),
    `message`, `violations` (list of Violation)."""

    code = "UNKNOWN"

    def __init__(self, message: str, reason: str = "", violations: list[Violation] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.violations: list[Violation] = list(violations or [])

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and self.message == other.message
                and self.reason == other.reason and self.violations == other.violations)

    __hash__ = Exception.__hash__

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r}, "
                f"violations={len(self.violations)})")


class InvalidArgumentError(DataPackError):
    code = "INVALID_ARGUMENT"


class AlreadyExistsError(DataPackError):
    code = "ALREADY_EXISTS"


class NotFoundError(DataPackError):
    code = "NOT_FOUND"


class ResourceExhaustedError(DataPackError):
    """The store could not make a record durable (e.g. the disk is full)."""

    code = "RESOURCE_EXHAUSTED"


class UnavailableError(DataPackError):
    """The server is not reachable, starting, or shutting down."""

    code = "UNAVAILABLE"


class FailedPreconditionError(DataPackError):
    """The store cannot serve the request in its current state (e.g. another
    server holds the data directory)."""

    code = "FAILED_PRECONDITION"


class DeadlineExceededError(DataPackError):
    code = "DEADLINE_EXCEEDED"


class InternalError(DataPackError):
    """An I/O fault or a bug. Nothing was acknowledged."""

    code = "INTERNAL"


class UnauthenticatedError(DataPackError):
    """The server requires a token and the call had none, or an unknown one
    (reason TOKEN_MISSING, TOKEN_INVALID). Only a server raises it."""

    code = "UNAUTHENTICATED"


class PermissionDeniedError(DataPackError):
    """The call's token may not do this (reason PERMISSION_READ_ONLY: a
    read-only token on a writing RPC). Only a server raises it."""

    code = "PERMISSION_DENIED"


ERROR_CLASSES = {c.code: c for c in (
    InvalidArgumentError, AlreadyExistsError, NotFoundError, ResourceExhaustedError,
    UnavailableError, FailedPreconditionError, DeadlineExceededError, InternalError,
    UnauthenticatedError, PermissionDeniedError)}


def invalid(field_: str, reason: str, message: str, index: int = 0, pack_id: str | None = None) -> InvalidArgumentError:
    """An InvalidArgumentError with one violation (argument errors)."""
    return InvalidArgumentError(message, reason, [Violation(index, pack_id, field_, reason, message)])
