"""The login page: what a person types is bounded before it reaches authentication.

Failed logins are recorded per username by django-axes in a 255-character column, and Django's
login form only hints its 150-character limit to the browser; an unbounded username would
overflow the record and turn a wrong login into a server error. (The API's token request,
accounts.api.TokenIssue, bounds its fields the same way.)
"""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm

USERNAME_MAX: int = get_user_model()._meta.get_field("username").max_length or 150


class LoginForm(AuthenticationForm):
    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if len(username) > USERNAME_MAX:
            raise forms.ValidationError(
                f"A username has at most {USERNAME_MAX} characters.", code="max_length"
            )
        return username
