from collections.abc import Callable

from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse


class DatabaseUnavailableMiddleware:
    """Answer a clean 503 while Postgres is unreachable; the next request reconnects by itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError):
            return None
        connection.close_if_unusable_or_obsolete()
        response = JsonResponse({"error": "database_unavailable", "detail": "the database is unreachable"})
        response.status_code = 503
        response["Retry-After"] = "5"
        return response
