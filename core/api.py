"""How a domain error looks in the REST API: the one place the API maps errors to responses."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error as {"error": code, "detail": sentence, "field"?: name}."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, DjangoPermissionDenied):
        return Response({"error": "forbidden", "detail": str(exc) or "not allowed"}, status=403)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(response.data["detail"], "code", "error")
        response.data = {"error": code, "detail": str(response.data["detail"])}
    elif response is not None:
        # Serializer validation errors: the first field and its message, then DRF's per-field messages.
        fields = response.data
        first = next(iter(fields), None) if isinstance(fields, dict) else None
        message = fields[first] if first else fields
        while isinstance(message, list | dict) and message:
            message = message[0] if isinstance(message, list) else next(iter(message.values()))
        response.data = {
            "error": "invalid",
            "detail": f"{first}: {message}"[:500] if first else "invalid input",
        }
        if first:
            response.data |= {"field": first, "fields": fields}
    return response
