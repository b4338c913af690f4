"""A real Celery worker process for integration tests, on queues of its own."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
J = TypeVar("J", bound=Any)


def worker_database_url() -> str:
    """The test database as a URL another process can use (a socket directory is percent-encoded)."""
    db = settings.DATABASES["default"]
    host = quote(db["HOST"] or "127.0.0.1", safe="") if str(db["HOST"]).startswith("/") else db["HOST"]
    auth = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
    return f"postgresql://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """`celery worker` consuming this test run's queues; kill() is a real SIGKILL."""

    def __init__(self, queues: list[str], env: dict[str, str] | None = None, concurrency: int = 1):
        self.queues = queues
        self.env = dict(os.environ, DATABASE_URL=worker_database_url(), **(env or {}))
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None

    def start(self) -> "Worker":
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            ",".join(self.queues),
            "--concurrency",
            str(self.concurrency),
            "--pool",
            "prefork",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
            "-n",
            f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True)
        time.sleep(0.5)
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def gpu_worker(celery_worker: Callable[..., Any], model_root: Path) -> Any:
    """A real worker that beats often, so a cancel or a lost run is noticed within a fraction of a second."""
    return celery_worker(
        COACH_MODEL_ROOT=str(model_root), COACH_JOB_HEARTBEAT_SECONDS="0.2", OMP_NUM_THREADS="1"
    )


def wait_for(job: J, done: Callable[[J], bool], *, timeout: float = 120.0) -> J:
    """Poll the job's row until `done(job)`; the timeout only keeps a broken run from hanging the suite."""
    deadline = time.monotonic() + timeout
    while True:
        fresh = type(job).objects.get(pk=job.pk)
        if done(fresh) or time.monotonic() > deadline:
            return fresh
        time.sleep(0.02)
