from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/token/", api.TokenIssue.as_view(), name="api-token"),
    path("auth/tokens/", api.TokenList.as_view(), name="api-tokens"),
    path("auth/tokens/<int:token_id>/", api.TokenRevoke.as_view(), name="api-token-revoke"),
]
