"""Reads of API tokens."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from accounts.models import ApiToken, key_sha256, password_fingerprint
from core.errors import NotAllowed, NotFound
from core.types import User

USERNAME_MAX: int = get_user_model()._meta.get_field("username").max_length or 150
# Longer than any issued key (49 characters) or any key DRF issued before (40): refused without hashing.
KEY_MAX = 200


def api_tokens_for(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens that are not revoked (expired ones too, until revoked), newest first."""
    return (
        ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("user")
        .order_by("-created_at", "-id")
    )


def api_tokens_live(*, user: User, now: datetime) -> QuerySet[ApiToken]:
    """The user's tokens that still authenticate: not revoked, not expired, issued under this password."""
    return api_tokens_for(user=user).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now), password_fingerprint=password_fingerprint(user)
    )


def api_token_for_key(*, key: str) -> ApiToken | None:
    """The token a key names, in whatever state, with its user; None for a key that was never issued."""
    if not key or len(key) > KEY_MAX:
        return None
    return ApiToken.objects.select_related("user").filter(key_sha256=key_sha256(key)).first()


def token_owner(*, user: User, username: str | None) -> User:
    """Whose tokens a request means: the caller's own, or for site staff, those of the user they name."""
    if not username or username == user.username:
        return user
    if not user.is_staff:
        raise NotAllowed("only site staff see another user's tokens", field="user")
    # a name no user can have (too long, or with a NUL Postgres refuses in text) is simply nobody's
    possible = len(username) <= USERNAME_MAX and "\x00" not in username
    owner = get_user_model().objects.filter(username=username).first() if possible else None
    if owner is None:
        raise NotFound(f"no user named {username!r}", field="user")
    return owner
