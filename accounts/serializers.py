"""Shapes of the token API's input and output; the rules (name, expiry, limits) are the services'."""

from rest_framework import serializers

from accounts.models import ApiToken, TokenState
from accounts.selectors import USERNAME_MAX

# django-axes records a failed login's username in a 255-character column: bound it before authentication.
PASSWORD_MAX = 4096
DEFAULT_NAME = "default"


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=USERNAME_MAX, write_only=True)
    password = serializers.CharField(
        max_length=PASSWORD_MAX, style={"input_type": "password"}, trim_whitespace=False, write_only=True
    )
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        default=DEFAULT_NAME,
        help_text="the script or machine that will use the token (at most 100 characters)",
    )
    expires_in_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="1 to 3650; left out, the token does not expire",
    )


class ApiTokenSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=TokenState.choices, source="state", read_only=True)
    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "user", "created_at", "last_used_at", "expires_at", "status"]
        read_only_fields = fields


class IssuedTokenSerializer(ApiTokenSerializer):
    """A new token with its key (the schema of POST /api/auth/token/)."""

    token = serializers.CharField(read_only=True, help_text="the key: shown only in this answer")

    class Meta(ApiTokenSerializer.Meta):
        fields = ["token", *ApiTokenSerializer.Meta.fields]
        read_only_fields = fields
