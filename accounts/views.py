"""The API tokens page: a user's tokens, a new one (its key shown once), revoking one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import TokenForm
from accounts.selectors import api_tokens_for, token_owner
from accounts.services import api_token_issue, api_token_revoke
from core.forms import errors_on
from core.types import AuthedRequest, User


def _tokens_url(owner: User, viewer: User) -> str:
    url = reverse("accounts:tokens")
    return url if owner == viewer else f"{url}?{urlencode({'user': owner.username})}"


@never_cache  # the answer to a create holds the new key
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: AuthedRequest) -> HttpResponse:
    """Your tokens and a form for a new one; site staff may open another user's (?user=) to revoke them."""
    owner = token_owner(user=request.user, username=request.GET.get("user"))
    mine = owner == request.user
    form = TokenForm(request.POST if request.method == "POST" and mine else None)
    created, status = None, 200
    if form.is_bound and form.is_valid():
        with errors_on(form):
            token, key = api_token_issue(
                user=request.user,
                name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
            created, form = {"token": token, "key": key}, TokenForm()
    if form.errors:
        status = 400
    context = {
        "owner": owner,
        "mine": mine,
        "form": form,
        "created": created,
        "tokens": api_tokens_for(user=owner),
    }
    return render(request, "accounts/tokens.html", context, status=status)


@login_required
@require_POST
def token_revoke(request: AuthedRequest, token_id: int) -> HttpResponse:
    token = api_token_revoke(token_id=token_id, by=request.user)
    messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect(_tokens_url(token.user, request.user))
