"""Login page and API token: what a person types is bounded before it reaches authentication.

Failed logins are recorded per username by django-axes in a 255-character column, and Django's
login form only hints its 150-character limit to the browser; an unbounded username would
overflow the record and turn a wrong login into a server error.
"""

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken

USERNAME_MAX: int = get_user_model()._meta.get_field("username").max_length or 150
PASSWORD_MAX = 4096


class LoginForm(AuthenticationForm):
    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if len(username) > USERNAME_MAX:
            raise forms.ValidationError(
                f"A username has at most {USERNAME_MAX} characters.", code="max_length"
            )
        return username


class TokenRequestSerializer(AuthTokenSerializer):
    username = serializers.CharField(label="Username", max_length=USERNAME_MAX, write_only=True)
    password = serializers.CharField(
        label="Password",
        max_length=PASSWORD_MAX,
        style={"input_type": "password"},
        trim_whitespace=False,
        write_only=True,
    )


class TokenIssue(ObtainAuthToken):
    """An API token for a username and password (DRF TokenAuthentication)."""

    serializer_class = TokenRequestSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        # django-axes marks a locked-out login on the request it is given; handing it Django's own
        # request lets its middleware answer 429, as the login page does.
        return super().get_serializer_context() | {"request": self.request._request}
