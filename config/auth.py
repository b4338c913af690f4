"""Logging in: the login form, the address a login comes from, and the answer to a locked-out one.

Failed logins are recorded per username by django-axes in a 255-character column, and Django's
login form only hints its 150-character limit to the browser; an unbounded username would
overflow the record and turn a wrong login into a server error. (The API's token request,
accounts.api.TokenIssue, bounds its fields the same way.)
"""

import ipaddress

from axes.helpers import get_cool_off
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

USERNAME_MAX: int = get_user_model()._meta.get_field("username").max_length or 150


class LoginForm(AuthenticationForm):
    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if len(username) > USERNAME_MAX:
            raise forms.ValidationError(
                f"A username has at most {USERNAME_MAX} characters.", code="max_length"
            )
        return username


def client_ip(request: HttpRequest) -> str | None:
    """The address a login comes from, which django-axes counts failures by (AXES_CLIENT_IP_CALLABLE).

    Behind settings.TRUSTED_PROXY_COUNT reverse proxies, each appending the address it was connected
    from to X-Forwarded-For, the client is the entry that many places from the right: whatever a
    client writes into the header itself stays to the left of it. With no trusted proxy, a header
    with fewer entries (a request that went round the proxies) or an entry that is not a plain
    address, it is the address that connected.
    """
    peer = request.META.get("REMOTE_ADDR")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < count:
        return peer
    try:
        address = ipaddress.ip_address(hops[-count])
    except ValueError:
        return peer
    if getattr(address, "scope_id", None):  # fe80::1%eth0: Postgres' inet column takes no zone
        return peer
    return str(address)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """What a locked-out login gets (AXES_LOCKOUT_CALLABLE): JSON on the API, the page elsewhere."""
    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60) if cool_off else None
    status = getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429)
    if request.path_info.startswith("/api/"):
        paused = f"for {minutes} minutes" if minutes else "until an admin unlocks it"
        detail = f"Too many failed logins: logging in as this user from here is paused {paused}."
        response: HttpResponse = JsonResponse({"error": "locked_out", "detail": detail}, status=status)
    else:
        response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=status)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
