"""How a domain error looks on a web page: the one place pages map DomainError to a response.

A view raises; DomainErrorMiddleware answers. By default the answer is the error page with the error's
status (for an HTMX request, the partial it swaps in). A view marked `json_errors` answers JSON (the
page's own fetch() calls); a view marked `flash_errors(back)` goes back to a page with the reason shown,
except for "not found" and "not allowed", which are always the error page.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render

from core.errors import DomainError, NotAllowed, NotFound
from core.text import sentence

V = TypeVar("V", bound=Callable[..., HttpResponseBase])  # streamed responses too
BackUrl = Callable[..., str]  # (request, **view kwargs) -> the page to go back to

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_MODE = "domain_errors"  # the view attribute the marks set; functools.wraps carries it to the wrappers


def json_errors(view: V) -> V:
    """Answer a domain error as {"error", "detail", "field"?} JSON with its status."""
    setattr(view, _MODE, "json")
    return view


def flash_errors(back: BackUrl) -> Callable[[V], V]:
    """Answer a refused form post by going back to `back(request, **kwargs)` with the reason shown."""

    def mark(view: V) -> V:
        setattr(view, _MODE, back)
        return view

    return mark


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def hx_redirect(request: HttpRequest, url: str) -> HttpResponse:
    """Go to `url`: HTMX follows an HX-Redirect header, a plain request a redirect."""
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def error_page(request: HttpRequest, error: DomainError) -> HttpResponse:
    template = "core/_error.html" if is_htmx(request) else "core/error.html"
    return render(request, template, {"error": error}, status=error.status)


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        mode = getattr(view, _MODE, "page")
        request.domain_errors = (mode, kwargs)  # type: ignore[attr-defined]
        if (
            request.method == "POST"
            and request.content_type in _FORM_TYPES
            and not request.path.startswith("/api/")
        ):
            # Postgres text cannot hold U+0000: a form field with one is refused before any view reads it.
            for name, values in request.POST.lists():
                if any("\x00" in value for value in values):
                    error = DomainError(
                        f"{name[:40]} holds a NUL character, which cannot be stored", field=name[:40]
                    )
                    return (
                        JsonResponse(error.as_dict(), status=400)
                        if mode == "json"
                        else error_page(request, error)
                    )
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        mode, kwargs = getattr(request, "domain_errors", ("page", {}))
        if mode == "json":
            return JsonResponse(exception.as_dict(), status=exception.status)
        if callable(mode) and not isinstance(exception, NotFound | NotAllowed):
            messages.error(request, sentence(exception.detail))
            return redirect(mode(request, **kwargs))
        return error_page(request, exception)
