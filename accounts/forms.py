"""The form of the API tokens page: its shape only; the services check the rules."""

from django import forms

from accounts.models import NAME_MAX


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX,
        help_text="the script or machine that will use it, e.g. “nightly export on gpu-3”",
    )
    expires_in_days = forms.IntegerField(
        label="Expires in days",
        required=False,
        help_text="1 to 3650; leave empty for a token that does not expire",
    )
