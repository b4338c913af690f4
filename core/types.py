"""Types the apps share."""

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as User  # the project's user model (AUTH_USER_MODEL)
from django.http import HttpRequest
from rest_framework.request import Request

__all__ = ["AnyUser", "ApiRequest", "AuthedRequest", "User"]

AnyUser = User | AnonymousUser


class AuthedRequest(HttpRequest):
    """A page request behind login_required: its user is a real account."""

    user: User


class ApiRequest(Request):
    """An API request: every API view requires an authenticated user (REST_FRAMEWORK settings)."""

    user: User
