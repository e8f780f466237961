"""What a client gets back when fastdet's serving models refuse a request: an HTTP status with a
JSON body ``{"error": "..."}`` over REST (MLServer's error handler writes it), and the matching
gRPC status code over gRPC.

Each error is an ``mlserver.errors.MLServerError`` with its status code; MLServer's REST handler
answers any of them with that code. Its gRPC handler maps only 400, 404, 422 and 500 and sends
every other code as UNKNOWN, so the codes fastdet uses are added to that table when this module
is imported (it is, by the runtimes, in the process that serves gRPC).
"""

from __future__ import annotations

from mlserver.errors import MLServerError

#: HTTP status -> gRPC status code name, for the codes MLServer does not map itself.
GRPC_CODES = {
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
}


class ServingError(MLServerError):
    """Base of the errors fastdet's serving models raise on purpose; ``status`` is the HTTP code."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message, self.status)


class BadRequest(ServingError):
    """The request is malformed: wrong tensor name, dtype or shape, undecodable image, bad parameter."""

    status = 400


class Unauthenticated(ServingError):
    """No API key, or one the policy does not know."""

    status = 401


class Forbidden(ServingError):
    """A known client asking for what its policy does not allow (model, version, class)."""

    status = 403


class TooLarge(ServingError):
    """An image with more pixels than the server or the client's policy accepts."""

    status = 413


class RateLimited(ServingError):
    """The client's request rate is spent; the message says when to retry."""

    status = 429


class UpstreamError(ServingError):
    """The detector model behind the router failed or could not be reached (a server-side problem)."""

    status = 502


class Unavailable(ServingError):
    """The detector model is not ready yet (still loading) or cannot be reached: retry."""

    status = 503


#: The class for each status code a detector model reports per image.
BY_STATUS: dict[int, type[ServingError]] = {e.status: e for e in (BadRequest, Unauthenticated, Forbidden, TooLarge,
                                                                  RateLimited, UpstreamError, Unavailable)}


def error_for(status: int, message: str) -> ServingError:
    """The ServingError for an HTTP status (UpstreamError for a code fastdet does not use)."""
    return BY_STATUS.get(status, UpstreamError)(message)


def _extend_grpc_mapping() -> None:
    try:
        import grpc
        from mlserver.grpc import utils as grpc_utils
    except ImportError:  # pragma: no cover - grpcio is a dependency of mlserver
        return
    for status, name in GRPC_CODES.items():
        grpc_utils.STATUS_CODE_MAPPING.setdefault(status, getattr(grpc.StatusCode, name))


_extend_grpc_mapping()
