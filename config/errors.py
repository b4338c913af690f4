"""Domain errors raised by services, and the one place that maps them to HTTP."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework.response import Response
from rest_framework.views import exception_handler


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


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, DjangoPermissionDenied):
        return Response({"error": "forbidden", "detail": str(exc) or "not allowed"}, status=403)
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(response.data["detail"], "code", "error")
        response.data = {"error": code, "detail": str(response.data["detail"])}
    elif response is not None:
        # Serializer validation errors: keep DRF's per-field messages under one key.
        response.data = {"error": "invalid", "detail": "invalid input", "fields": response.data}
    return response
