"""The token API: issue a token for a username and password, list your tokens, revoke one."""

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import api_tokens_for, token_owner
from accounts.serializers import ApiTokenSerializer, IssuedTokenSerializer, TokenRequestSerializer
from accounts.services import api_token_issue, api_token_revoke
from core.errors import DomainError
from core.types import ApiRequest


class TokenIssue(APIView):
    """A new API token for a username and password; failed attempts count toward the login lockout."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenRequestSerializer, responses=IssuedTokenSerializer)
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # django-axes marks a locked-out login on the request it is given; handing it Django's own request
        # lets its middleware answer 429, as the login page does.
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None:
            raise DomainError("wrong username or password", field="password")
        token, key = api_token_issue(user=user, name=data["name"], expires_in_days=data["expires_in_days"])
        response = Response({"token": key, **ApiTokenSerializer(token).data})
        response["Cache-Control"] = "no-store"
        return response


class TokenList(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("user", str, description="site staff: another user's tokens")],
        responses=ApiTokenSerializer(many=True),
    )
    def get(self, request: ApiRequest) -> Response:
        owner = token_owner(user=request.user, username=request.query_params.get("user"))
        return Response(ApiTokenSerializer(api_tokens_for(user=owner), many=True).data)


class TokenRevoke(APIView):
    @extend_schema(responses={204: OpenApiResponse(description="revoked")})
    def delete(self, request: ApiRequest, token_id: int) -> Response:
        api_token_revoke(token_id=token_id, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
