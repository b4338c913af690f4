from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def client_for() -> Callable[[Any], Client]:
    """A browser-like client logged in as `user` (CSRF is checked where the test asks for it)."""

    def make(user: Any, *, csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=csrf)
        client.force_login(user)
        return client

    return make
