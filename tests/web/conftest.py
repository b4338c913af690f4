from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from labeling.models import Project
from labeling.services.imports import prompts_import
from tests.conftest import jsonl


@pytest.fixture
def client_for() -> Callable[[Any], Client]:
    """A browser-like client logged in as `user` (CSRF is checked where the test asks for it)."""

    def make(user: Any, *, csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=csrf)
        client.force_login(user)
        return client

    return make


def seed_demonstrations(project: Project, n: int, *, kind: str = "demonstration") -> None:
    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind=kind,
        stream=jsonl(
            [
                {
                    "external_id": f"d{i}",
                    "messages": [
                        {"role": "user", "content": f"Tell me about topic {i}."},
                        {"role": "assistant", "content": "Which part of it?"},
                        {"role": "user", "content": "The history, briefly."},
                    ],
                }
                for i in range(n)
            ]
        ),
    )
