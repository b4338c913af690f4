"""The chat page's share of bench/pages.py: a tiny model served by Coach's transformers server, chat tasks
for a few labelers, the page's time, Coach's overhead on the first token of a streamed reply, and
labelers streaming while another one ranks."""

import io
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

CONVERSATION = [
    {"role": "system", "content": "You plan outings."},
    {"role": "user", "content": "Plan a picnic for four people in the park."},
    {"role": "assistant", "content": "Bread, cheese, fruit, a blanket and something to drink."},
    {"role": "user", "content": "And if it rains?"},
]


@contextmanager
def served_tiny_model() -> Iterator[tuple[str, str]]:
    """(model directory, server URL): a tiny model built from scratch, served by Coach's own server."""
    from django.test import override_settings

    from trainer_bridge import serving
    from trainer_bridge.ml.tiny import make_tiny_model

    with tempfile.TemporaryDirectory(prefix="coach-bench-chat-") as root:
        model_dir = make_tiny_model(Path(root) / "model", seed=0, warmup_steps=0)
        with override_settings(DATA_ROOT=root, SERVER_THREADS=1):
            server = serving.launch(engine="transformers", model_dir=str(model_dir), served_name="bench-chat")
        try:
            serving.wait_ready(server, timeout=300)
            yield str(model_dir), server.url
        finally:
            serving.stop(server)


def seed_chats(*, model_dir: str, server_url: str, labelers: list[str], password: str) -> int:
    """A chat project talking to the served model, and one chat task leased to each labeler (its
    conversation saved as a draft); returns the project id."""
    from django.contrib.auth import get_user_model

    from guidelines.services import guideline_acknowledge, guideline_publish
    from labeling.services.chat import chat_draft_save, chat_settings_set
    from labeling.services.imports import prompts_import
    from labeling.services.projects import membership_set, project_create
    from labeling.services.queue import claim_next_task
    from registry.services import model_register
    from trainer_bridge.services.servers import model_server_check, model_server_register

    User = get_user_model()
    admin = User.objects.get(username="bench-admin")
    project = project_create(
        name="chat bench", task_kinds=["chat"], k=4, overlap=1, lease_seconds=3600, created_by=admin
    )
    version = guideline_publish(
        guideline=project.guideline, author=admin, body="Chat kindly.", change_note="v1"
    )
    from django.test import override_settings

    with override_settings(MODEL_ROOTS=[str(Path(model_dir).parent)]):  # a scratch directory of the bench
        model = model_register(path=model_dir, name="bench-chat")
    server = model_server_register(
        project=project, model_version=model, url=server_url, user=admin, served_model_name="bench-chat"
    )
    model_server_check(server=server)
    chat_settings_set(
        project=project, user=admin, model_version=model, k=4, max_new_tokens=16, calls_per_minute=1000
    )
    for i, name in enumerate(labelers):
        rows = (
            json.dumps({"messages": [CONVERSATION[0], {"role": "user", "content": f"Question {i}?"}]}) + "\n"
        )
        prompts_import(project=project, fmt="jsonl", task_kind="chat", stream=io.BytesIO(rows.encode()))
        user = User.objects.filter(username=name).first() or User.objects.create_user(name)
        user.set_password(password)
        user.save()
        membership_set(project=project, user=user, role="labeler")
        guideline_acknowledge(user=user, version=version)
        assignment = claim_next_task(project=project, labeler=user)
        assert assignment is not None
        chat_draft_save(assignment_id=assignment.pk, labeler=user, messages=CONVERSATION)
    return project.pk


@dataclass
class Chat:
    base: str
    session: requests.Session
    assignment_url: str  # /assignments/<id>/
    reply_url: str

    @classmethod
    def open(cls, base: str, session: requests.Session, username: str, project: int) -> "Chat":
        from labeling.models import Assignment

        assignment = Assignment.objects.filter(
            task__project_id=project, labeler__username=username, state="active"
        ).get()
        return cls(
            base,
            session,
            f"{base}/assignments/{assignment.pk}/",
            f"{base}/stream/chat/{assignment.pk}/reply/",
        )

    def first_token(self) -> tuple[float, str]:
        """Seconds to the first piece of a streamed reply through Coach, and the whole reply."""
        headers = {
            "X-CSRFToken": self.session.cookies["csrftoken"],
            "Referer": self.base,
            "Content-Type": "application/json",
        }
        start = time.perf_counter()
        first = None
        text = ""
        with self.session.post(
            self.reply_url, data=json.dumps({"messages": CONVERSATION}), headers=headers, stream=True
        ) as response:
            if response.status_code != 200:
                raise RuntimeError(f"reply: HTTP {response.status_code} {response.text[:200]}")
            for line in response.iter_lines():
                if not line.startswith(b"data: "):
                    continue
                event = json.loads(line[6:])
                if "text" in event and first is None and not event.get("done"):
                    first = time.perf_counter() - start
                if event.get("error"):
                    raise RuntimeError(event["error"])
                if event.get("done"):
                    text = event["text"]
        if first is None:
            raise RuntimeError("the reply streamed no text")
        return first, text


def engine_first_token(server_url: str) -> float:
    """Seconds to the first piece of the same reply asked of the engine directly."""
    from registry.client import ChatClient

    client = ChatClient(base_url=server_url, model="bench-chat", retries=0)
    try:
        start = time.perf_counter()
        for _ in client.stream(CONVERSATION, max_tokens=16, temperature=0.8, seed=1):
            return time.perf_counter() - start
        raise RuntimeError("the engine streamed no text")
    finally:
        client.close()


def engine_reply(server_url: str) -> None:
    """The same reply as a chat asks for (16 new tokens), streamed whole from the engine directly."""
    from registry.client import ChatClient

    client = ChatClient(base_url=server_url, model="bench-chat", retries=0)
    try:
        for _ in client.stream(CONVERSATION, max_tokens=16, temperature=0.8):
            pass
    finally:
        client.close()


class Streamers:
    """Replies asked for one after another, each caller in a thread of its own, until stopped: labelers
    streaming through Coach (`Chat.first_token`), or the same replies asked of the engine directly."""

    def __init__(self, callers: list[Callable[[], object]]) -> None:
        self.stopping = threading.Event()
        self.replies = 0
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._loop, args=(call,), daemon=True) for call in callers]

    def _loop(self, call: Callable[[], object]) -> None:
        while not self.stopping.is_set():
            try:
                call()
                self.replies += 1
            except Exception as exc:  # reported in the figures, never hidden
                self.errors.append(str(exc)[:200])
                time.sleep(0.5)

    def __enter__(self) -> "Streamers":
        for thread in self.threads:
            thread.start()
        time.sleep(1.0)  # both are streaming before the measurement starts
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)
