import os
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from guidelines.services import guideline_acknowledge, guideline_publish
from labeling.models import Project, Role
from labeling.services.projects import membership_set, project_create

User = get_user_model()
ML_FIXTURES = {
    "tiny_model_dir",
    "untrained_model_dir",
    "tiny_tokenizer",
    "base_model",
    "served_model_dir",
    "vllm_server",
    "chat_model_server",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by what it uses, so the fast tier leaves out workers, models and the browser."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        parts = item.path.parts
        if "celery_worker" in used:
            item.add_marker(pytest.mark.worker)
        if used & ML_FIXTURES or "ml" in parts:
            item.add_marker(pytest.mark.ml)
        if "browser" in parts:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def model_roots_include_test_dirs(settings, tmp_path_factory) -> None:
    """Tiny models live under pytest's temporary directory; registering them needs it among the roots."""
    settings.MODEL_ROOTS = [*settings.MODEL_ROOTS, tmp_path_factory.getbasetemp()]


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    def make(username: str, *, staff: bool = False) -> Any:
        return User.objects.create_user(username=username, password="pw-" + username, is_staff=staff)

    return make


@pytest.fixture
def admin(make_user):
    return make_user("ada", staff=True)


@pytest.fixture
def make_project(admin) -> Callable[..., Project]:
    def make(
        *,
        name: str = "helpful",
        kinds: list[str] | None = None,
        k: int = 4,
        overlap: int = 1,
        lease_seconds: int = 600,
        guideline: str | None = "Rank by helpfulness, then honesty.",
    ) -> Project:
        project = project_create(
            name=name,
            task_kinds=kinds or ["ranking", "demonstration"],
            created_by=admin,
            k=k,
            overlap=overlap,
            lease_seconds=lease_seconds,
        )
        if guideline:
            guideline_publish(guideline=project.guideline, author=admin, body=guideline, change_note="first")
        return project

    return make


@pytest.fixture
def project(make_project) -> Project:
    return make_project()


@pytest.fixture
def add_member(make_user) -> Callable[..., Any]:
    def add(project: Project, username: str, role: str = Role.LABELER, *, acknowledge: bool = True) -> Any:
        user = User.objects.filter(username=username).first() or make_user(username)
        membership_set(project=project, user=user, role=role)
        if acknowledge and (version := project.guideline.versions.order_by("-number").first()):
            guideline_acknowledge(user=user, version=version)
        return user

    return add


@pytest.fixture
def celery_worker(django_db_setup, django_db_blocker):
    """Start real Celery workers on queues private to this test run; tasks sent meanwhile go there."""
    from config.celery import app
    from tests.workers import Worker

    cpu_queue, gpu_queue = f"test-{os.getpid()}-cpu", f"test-{os.getpid()}-gpu"
    serve_queue = f"test-{os.getpid()}-serve"
    saved = app.conf.task_default_queue, app.conf.task_routes
    # update(), not assignment: only an update makes Celery rebuild the router it caches at the first send
    app.conf.update(
        task_default_queue=cpu_queue,
        task_routes={f"{name}.tasks.gpu_*": {"queue": gpu_queue} for name in ("trainer_bridge", "curation")}
        | {"trainer_bridge.tasks.serve_*": {"queue": serve_queue}},
    )
    workers: list[Worker] = []

    def start(**env: str) -> Worker:
        workers.append(Worker([cpu_queue, gpu_queue, serve_queue], env=env).start())
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()
    app.conf.update(task_default_queue=saved[0], task_routes=saved[1])


@pytest.fixture
def api() -> Callable[[Any], APIClient]:
    def client_for(user: Any | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for


# --- tiny models, built from scratch once per session (one per shape the suite needs) ------------------


def _tiny(tmp_path_factory: Any, name: str, **shape: Any) -> Any:
    torch = pytest.importorskip("torch")
    from trainer_bridge.ml.tiny import make_tiny_model

    torch.set_num_threads(2)  # tiny tensors: more threads only add contention on a shared machine
    return make_tiny_model(tmp_path_factory.mktemp(name), seed=0, **shape)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: Any) -> Any:
    """A tiny chat model and tokenizer, warmed up on template chats so it writes chat-shaped text."""
    return _tiny(tmp_path_factory, "tiny-model")


@pytest.fixture(scope="session")
def untrained_model_dir(tmp_path_factory: Any) -> Any:
    """The same tiny chat model with random weights (no warm-up), so its samples rarely stop early."""
    return _tiny(tmp_path_factory, "untrained-model", warmup_steps=0)


@pytest.fixture(scope="session")
def served_model_dir(tmp_path_factory: Any) -> Any:
    """The tiny chat model in the shape vLLM's CPU backend serves (head_dim 64), warmed up the same way."""
    from trainer_bridge.ml.tiny import SERVED_SHAPE

    return _tiny(tmp_path_factory, "served-model", **SERVED_SHAPE)


# The vLLM server of the session: its OpenMP threads bounded (it would take every core from gunicorn and
# Chromium), a tenth of the RAM for its KV cache (on a CPU that is what gpu_memory_utilization sizes), and
# no chunked prefill: on a CPU, a seeded request whose prompt is prefilled in two steps stops the engine
# ("CPU Generator does not use offset", vLLM 0.32).
TEST_SERVER_SETTINGS = {
    "SERVER_THREADS": 1,
    "VLLM_ARGS": "--gpu-memory-utilization 0.1 --max-model-len 1024 --no-enable-chunked-prefill",
}
VLLM_SERVED_NAME = "tiny-served"


@pytest.fixture(scope="session")
def vllm_server(served_model_dir: Any, tmp_path_factory: Any) -> Any:
    """One real vLLM server (the CPU build) for the whole session: it takes 25-45 s to start."""
    from django.test import override_settings

    from trainer_bridge import serving

    if serving.vllm_python() is None:
        if os.environ.get("CI"):
            pytest.fail("vLLM is not installed: `make vllm` builds .venv-vllm")
        pytest.skip("vLLM is not installed: `make vllm` builds .venv-vllm")
    with override_settings(DATA_ROOT=tmp_path_factory.mktemp("vllm"), **TEST_SERVER_SETTINGS):
        process = serving.launch(engine="vllm", model_dir=str(served_model_dir), served_name=VLLM_SERVED_NAME)
    try:
        serving.wait_ready(process, timeout=600)
        yield process
    finally:
        serving.stop(process)


@pytest.fixture(scope="session")
def chat_model_server(tiny_model_dir: Any, tmp_path_factory: Any) -> Any:
    """Coach's transformers server over the tiny chat model, for the chat tests: started once a session."""
    from django.test import override_settings

    from trainer_bridge import serving

    with override_settings(DATA_ROOT=tmp_path_factory.mktemp("chat-server"), SERVER_THREADS=1):
        process = serving.launch(
            engine="transformers", model_dir=str(tiny_model_dir), served_name="tiny-chat"
        )
    try:
        serving.wait_ready(process, timeout=300)
        yield process
    finally:
        serving.stop(process)
