"""Domain errors that carry their HTTP status, so an expected error is never a 500."""

from __future__ import annotations


class SwitchboardError(Exception):
    """Base of every expected error; `status_code` and `code` become the HTTP answer."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(SwitchboardError):
    pass


class Unauthorized(SwitchboardError):
    status_code = 401
    code = "unauthorized"


class Forbidden(SwitchboardError):
    status_code = 403
    code = "forbidden"


class NotFound(SwitchboardError):
    status_code = 404
    code = "not_found"


class Conflict(SwitchboardError):
    status_code = 409
    code = "conflict"


class Unavailable(SwitchboardError):
    status_code = 503
    code = "unavailable"
