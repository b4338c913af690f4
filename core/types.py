"""Types the apps share."""

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as User  # the project's user model (AUTH_USER_MODEL)
from django.http import HttpRequest

__all__ = ["AnyUser", "AuthedRequest", "User"]

AnyUser = User | AnonymousUser


class AuthedRequest(HttpRequest):
    """A request behind login_required: its user is a real account."""

    user: User  # type: ignore[assignment]
