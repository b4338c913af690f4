"""`Authorization: Token <key>` against the named API tokens (accounts.models.ApiToken)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.models import ApiToken, TokenState
from accounts.selectors import api_token_for_key
from accounts.services import api_token_mark_used
from core.types import User

KEYWORD = "Token"
REFUSALS = {
    TokenState.REVOKED: "this token was revoked",
    TokenState.EXPIRED: "this token has expired",
    TokenState.PASSWORD_CHANGED: "this token ended when the password changed; ask for a new one",
    TokenState.USER_INACTIVE: "this token's user is inactive",
}


class TokenRefused(exceptions.APIException):
    """A token that was sent but does not authenticate: 401, whatever authentication class comes first.

    (DRF turns its own AuthenticationFailed into 403 when session authentication is listed first, as it
    is here so that a request without credentials keeps its 403.)
    """

    status_code = 401
    default_code = "invalid_token"
    default_detail = "invalid token"
    auth_header = KEYWORD


class ApiTokenAuthentication(BaseAuthentication):
    keyword = KEYWORD

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise TokenRefused("send the header as 'Authorization: Token <key>'")
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise TokenRefused() from None
        token = api_token_for_key(key=key)
        if token is None:
            raise TokenRefused()
        state = token.state()
        if state != TokenState.ACTIVE:
            raise TokenRefused(REFUSALS[state])
        api_token_mark_used(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the header."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix=KEYWORD)
