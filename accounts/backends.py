"""Password logins that keep the user's API tokens when Django re-hashes an unchanged password."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.models import password_fingerprint
from accounts.services import api_tokens_follow_rehash
from core.types import User


class PasswordBackend(ModelBackend):
    """Django's ModelBackend, and one thing more.

    A token ends when its user's password hash changes (accounts.models.ApiToken). Django also rewrites the
    hash of an unchanged password when it checks one under an older hasher or fewer iterations (after a
    Django upgrade, say); the tokens would end then too. Here the user has just typed that very password,
    so the tokens it was issued under are moved to the new hash.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        model = get_user_model()
        if username is None:
            username = kwargs.get(model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            model().set_password(password)  # as long as a wrong password, as ModelBackend does (#20760)
            return None
        before = password_fingerprint(user)
        if user.check_password(password) and self.user_can_authenticate(user):
            api_tokens_follow_rehash(user=user, old_fingerprint=before)
            return user
        return None
