"""Named API tokens: one per script or machine, stored as the sha256 of the key, never the key itself."""

import hashlib
from datetime import datetime

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.db.models import Q
from django.utils import timezone

NAME_MAX = 100


def key_sha256(key: str) -> str:
    """What the database keeps of a key: its sha256, hex. A key is random and long, so no salt is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


def password_fingerprint(user: AbstractBaseUser) -> str:
    """The sha256 of the user's password hash: a new password (any new hash) gives a new fingerprint."""
    return hashlib.sha256(user.password.encode()).hexdigest()


class TokenState(models.TextChoices):
    ACTIVE = "active", "active"
    EXPIRED = "expired", "expired"
    PASSWORD_CHANGED = "password_changed", "ended by a password change"
    USER_INACTIVE = "user_inactive", "user inactive"
    REVOKED = "revoked", "revoked"


class ApiToken(models.Model):
    """An API key of one user, sent as `Authorization: Token <key>`.

    It works while it is not revoked, not past `expires_at`, and while the user's password is the one it
    was issued under (`password_fingerprint`): changing the password ends every earlier token.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=NAME_MAX)
    key_sha256 = models.CharField(max_length=64, unique=True)
    password_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            # Only a digest is ever stored: 64 lowercase hex digits, which no issued key looks like.
            models.CheckConstraint(
                condition=Q(key_sha256__regex=r"^[0-9a-f]{64}$"), name="api_token_key_is_sha256"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"

    def state(self, now: datetime | None = None) -> TokenState:
        """Whether the token authenticates its user (ACTIVE) or, if not, why not."""
        if self.revoked_at is not None:
            return TokenState.REVOKED
        if self.expires_at is not None and self.expires_at <= (now or timezone.now()):
            return TokenState.EXPIRED
        if not self.user.is_active:
            return TokenState.USER_INACTIVE
        if self.password_fingerprint != password_fingerprint(self.user):
            return TokenState.PASSWORD_CHANGED
        return TokenState.ACTIVE
