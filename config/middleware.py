from collections.abc import Callable

from django.conf import settings
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


HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY on every response that does not carry a policy of its own.

    A page named in settings.CONTENT_SECURITY_POLICY_PAGES (by URL name) gets its directives replaced by
    the ones listed there: the pages whose templates still hold inline script.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            match = getattr(request, "resolver_match", None)
            response[HEADER] = policy_for(match.view_name if match else "")
        return response


def policy_for(view_name: str) -> str:
    """The policy header of a page, by its URL name ("namespace:name")."""
    directives = settings.CONTENT_SECURITY_POLICY | settings.CONTENT_SECURITY_POLICY_PAGES.get(view_name, {})
    return "; ".join(f"{name} {value}" for name, value in directives.items())
