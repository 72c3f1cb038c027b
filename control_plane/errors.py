"""Domain errors, raised by services and turned into JSON responses by the app.

Services never import the web framework; each error carries the status code the
contract gives it. The app maps them to responses in one place
(`control_plane.app`): `{"status_code", "detail"}`, plus `"extra": {"code"}` when
the error has a `code`.
"""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # A stable reason for programs, where a contract names one (chat's REST errors:
        # `name_taken`, `frame_too_large`, ...); `detail` is for people.
        self.code = code


class BadRequest(DomainError):
    status_code = 400


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class ContentTooLarge(DomainError):
    status_code = 413


class Unprocessable(DomainError):
    status_code = 422


class TooManyRequests(DomainError):
    status_code = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(DomainError):
    status_code = 503
