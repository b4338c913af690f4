"""Issuing, using and revoking API tokens."""

import secrets
import unicodedata
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.models import NAME_MAX, ApiToken, key_sha256, password_fingerprint
from accounts.selectors import api_tokens_live
from core.errors import Conflict, DomainError, NotFound
from core.types import User

KEY_PREFIX = "coach_"
EXPIRY_DAYS_MAX = 3650
# Live (not revoked, not expired) tokens one user may hold: a script that asks for a new token on every run
# is told to keep its token, instead of piling up keys nobody revokes.
LIVE_TOKENS_MAX = 50
# last_used_at is written at most this often per token, so API calls do not each write a row.
LAST_USED_EVERY = timedelta(minutes=1)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError("give the token a name (the script or machine that uses it)", field="name")
    if len(name) > NAME_MAX:
        raise DomainError(f"a token name has at most {NAME_MAX} characters", field="name")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise DomainError("a token name is one line of text, without control characters", field="name")
    return name


def _expiry(expires_in_days: int | None) -> timedelta | None:
    if expires_in_days is None:
        return None
    if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int):
        raise DomainError("expires_in_days must be a whole number of days", field="expires_in_days")
    if not 1 <= expires_in_days <= EXPIRY_DAYS_MAX:
        raise DomainError(
            f"expires_in_days is a number of days from 1 to {EXPIRY_DAYS_MAX} (leave it out for no expiry)",
            field="expires_in_days",
        )
    return timedelta(days=expires_in_days)


@transaction.atomic
def api_token_issue(*, user: User, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for the user and its key: the key is returned here once and stored only as its sha256."""
    name = _clean_name(name)
    lifetime = _expiry(expires_in_days)
    # One issue at a time per user, so two at once cannot both pass the limit.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    now = timezone.now()
    live = api_tokens_live(user=user, now=now).count()
    if live >= LIVE_TOKENS_MAX:
        raise Conflict(
            f"you hold {live} live API tokens, the most allowed; revoke one you no longer use", field="name"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_sha256=key_sha256(key),
        password_fingerprint=password_fingerprint(user),
        created_at=now,
        expires_at=now + lifetime if lifetime else None,
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token_id: int, by: User) -> ApiToken:
    """Revoke one token: its owner may, and site staff may revoke anyone's. It stops working at once."""
    found = ApiToken.objects.select_for_update().filter(pk=token_id, revoked_at__isnull=True)
    if not by.is_staff:
        found = found.filter(user=by)
    token = found.first()
    if token is None:
        raise NotFound("no such API token")
    token.revoked_at = timezone.now()
    token.revoked_by = by
    token.save(update_fields=["revoked_at", "revoked_by"])
    return token


def api_token_mark_used(*, token: ApiToken) -> None:
    """Note when a token was last used, at most once a minute per token."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def api_tokens_follow_rehash(*, user: User, old_fingerprint: str) -> int:
    """After Django re-hashed an unchanged password (a stronger hasher, more iterations), keep its tokens.

    Called only once the user has just proved the password; tokens issued under an older password stay
    ended. Returns how many tokens were kept.
    """
    new = password_fingerprint(user)
    if new == old_fingerprint:
        return 0
    return ApiToken.objects.filter(
        user=user, revoked_at__isnull=True, password_fingerprint=old_fingerprint
    ).update(password_fingerprint=new)
