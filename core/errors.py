"""Domain errors: what services raise when a request is refused. core.pages and core.api turn them into
responses, core.commands into command errors."""

from typing import Any


class DomainError(Exception):
    """A request that the domain refuses; `field` names the part of the input at fault."""

    status = 400
    code = "invalid"

    def __init__(self, detail: str, *, field: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra or {}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "detail": self.detail}
        if self.field:
            body["field"] = self.field
        return body | self.extra


class NotAllowed(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Gone(DomainError):
    status = 410
    code = "gone"
