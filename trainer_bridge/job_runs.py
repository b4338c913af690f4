"""How a GPU job runs: one live run per job, a heartbeat, cancel, and resume after a lost worker.

A run claims its job by writing a fresh token into `runner`; every write it makes afterwards is
conditional on still holding that token, and a thread beats `heartbeat_at` while it works. When a
worker dies (kill -9, OOM, a lost machine) its heartbeat stops; `jobs_resume_stale` queues the job
again and the next run picks up from what was saved (candidates stored per batch, training
checkpoints). A redelivered or duplicated Celery message finds the job held by a live run, or
finished, and does nothing.
"""

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import OperationalError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from config.broker import QueueUnavailable, enqueue
from core.errors import Conflict, DomainError
from labeling.access import require_role
from labeling.models import Role
from trainer_bridge.exports.jobs import exports_resume_stale
from trainer_bridge.models import GenerationJob, Job, JobStatus, TrainingJob

log = logging.getLogger(__name__)

J = TypeVar("J", GenerationJob, TrainingJob)
MAX_ATTEMPTS = 5  # a job whose worker dies this many times fails instead of being queued again
JOB_ROLE = Role.ADMIN  # starting and cancelling jobs
VIEW_ROLE = Role.REVIEWER  # seeing jobs, models and their logs


class JobStopped(Exception):
    """Raised inside a run when its job was cancelled or another run took it over."""


def _stamp() -> str:
    return timezone.now().strftime("%Y-%m-%d %H:%M:%S")


def job_log(job: Job, line: str) -> None:
    """Append a line to the job's log (one UPDATE; the log is never rewritten)."""
    type(job).objects.filter(pk=job.pk).update(log=Concat(F("log"), Value(f"{_stamp()} {line}\n")))


def _task_for(job: Job) -> Any:
    from trainer_bridge import tasks  # tasks import the services that import this module

    return tasks.gpu_generate if isinstance(job, GenerationJob) else tasks.gpu_train


def job_dispatch(job: Job) -> None:
    """Send the job to the gpu queue once the surrounding transaction commits.

    When the broker cannot be reached the job is marked failed and QueueUnavailable (503) is raised
    from the commit, so the caller says so instead of showing a job that will never run.
    """
    task = _task_for(job)

    def send() -> None:
        try:
            enqueue(task, job=job, what="the job")
        except QueueUnavailable as exc:
            job_log(job, exc.detail)
            raise

    transaction.on_commit(send)


@transaction.atomic
def job_cancel(*, job: J, user: AbstractBaseUser | None) -> J:
    """A queued job is cancelled at once; a running one stops at its next batch or step."""
    if user is not None:
        require_role(user=user, project=job.project, role=JOB_ROLE)
    job = type(job).objects.select_for_update().get(pk=job.pk)
    who = user.get_username() if user is not None else "the system"
    if job.status == JobStatus.QUEUED:
        job.status, job.finished_at = JobStatus.CANCELLED, timezone.now()
        job.save(update_fields=["status", "finished_at"])
        job_log(job, f"cancelled by {who} before it started")
    elif job.status == JobStatus.RUNNING:
        if not job.cancel_requested:
            job.cancel_requested = True
            job.save(update_fields=["cancel_requested"])
            job_log(job, f"cancel asked by {who}; stopping at the next batch or step")
    else:
        raise Conflict(f"the job is {job.status}; only a queued or running job can be cancelled")
    return job


def jobs_resume_stale(*, stale_seconds: float | None = None) -> list[tuple[str, int]]:
    """Queue again every running job or export whose heartbeat stopped (its worker died); returns what
    it touched."""
    stale_after = timedelta(seconds=settings.JOB_STALE_SECONDS if stale_seconds is None else stale_seconds)
    touched = []
    for model in (GenerationJob, TrainingJob):
        with transaction.atomic():
            stale = model.objects.select_for_update(skip_locked=True).filter(
                status=JobStatus.RUNNING, heartbeat_at__lt=timezone.now() - stale_after
            )
            for job in stale:
                since = job.heartbeat_at.strftime("%H:%M:%S") if job.heartbeat_at else "?"
                job.runner = ""
                if job.cancel_requested:
                    job.status, job.finished_at = JobStatus.CANCELLED, timezone.now()
                    line = f"no heartbeat since {since}: the worker was lost; cancelled as asked"
                elif job.attempts >= MAX_ATTEMPTS:
                    job.status, job.finished_at = JobStatus.FAILED, timezone.now()
                    job.error = f"the worker was lost {job.attempts} times; giving up"
                    line = job.error
                else:
                    job.status = JobStatus.QUEUED
                    line = f"no heartbeat since {since}: the worker was lost; queued again to resume"
                    job_dispatch(job)
                job.save(update_fields=["runner", "status", "finished_at", "error"])
                job_log(job, line)
                touched.append((model.__name__, job.pk))
    return touched + [("ExportJob", pk) for pk in exports_resume_stale(stale_seconds=stale_seconds)]


class Run:
    """One attempt at a job, holding it by its token; the work calls `check()` / `update()` as it goes."""

    def __init__(self, model: type[J], job_id: int, token: str) -> None:
        self.model, self.job_id, self.token = model, job_id, token
        self.stop_reason: str | None = None  # "cancelled" or "lost"
        self._stopped = threading.Event()
        self._last_check = 0.0
        self._thread = threading.Thread(target=self._beat, name=f"{model.__name__}-{job_id}-heartbeat")
        self._thread.daemon = True

    # --- the heartbeat thread, on a database connection of its own ---

    def _beat(self) -> None:
        try:
            while not self._stopped.wait(settings.JOB_HEARTBEAT_SECONDS):
                try:
                    self._poll(beat=True)
                except Exception:  # a missed beat is not a failed job; the next one may get through
                    log.exception("heartbeat of %s %s failed", self.model.__name__, self.job_id)
        finally:
            connection.close()

    def _poll(self, *, beat: bool) -> None:
        held = self.model.objects.filter(pk=self.job_id, runner=self.token)
        if beat:
            held.update(heartbeat_at=timezone.now())
        state = held.values_list("cancel_requested", flat=True).first()
        if state is None:
            self.stop_reason = self.stop_reason or "lost"
        elif state:
            self.stop_reason = self.stop_reason or "cancelled"

    # --- called by the work, on the run's own thread ---

    def should_stop(self) -> bool:
        """True once the job is cancelled or taken over; asks the database at most once a second."""
        if self.stop_reason is None and time.monotonic() - self._last_check >= 1.0:
            self._last_check = time.monotonic()
            self._poll(beat=False)
        return self.stop_reason is not None

    def check(self) -> None:
        if self.should_stop():
            raise JobStopped(self.stop_reason)

    def update(self, **fields: Any) -> None:
        """Write progress while holding the job; raises JobStopped when the job is no longer this run's."""
        if not self.model.objects.filter(pk=self.job_id, runner=self.token).update(
            heartbeat_at=timezone.now(), **fields
        ):
            self.stop_reason = "lost"
            raise JobStopped("lost")

    def log(self, line: str) -> None:
        self.model.objects.filter(pk=self.job_id, runner=self.token).update(
            log=Concat(F("log"), Value(f"{_stamp()} {line}\n"))
        )

    def finish(self, status: str, *, error: str = "", line: str = "", **fields: Any) -> bool:
        done = self.model.objects.filter(pk=self.job_id, runner=self.token).update(
            status=status, runner="", finished_at=timezone.now(), error=error, **fields
        )
        if done and line:
            self.model.objects.filter(pk=self.job_id).update(
                log=Concat(F("log"), Value(f"{_stamp()} {line}\n"))
            )
        return bool(done)

    def release(self, line: str) -> None:
        """Hand the job back to the queue (a database error; Celery retries the task)."""
        self.model.objects.filter(pk=self.job_id, runner=self.token).update(
            status=JobStatus.QUEUED, runner=""
        )
        job_log(self.model(pk=self.job_id), line)


def _claim(model: type[J], job_id: int) -> tuple[Run, J] | None:
    """Take the job unless it is finished, cancelled, or held by a run whose heartbeat is fresh."""
    stale_after = timedelta(seconds=settings.JOB_STALE_SECONDS)
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in Job.FINISHED:
            return None
        fresh = job.heartbeat_at is not None and job.heartbeat_at > timezone.now() - stale_after
        if job.status == JobStatus.RUNNING and job.runner and fresh:
            return None  # a live run holds it (a redelivered or duplicate message)
        if job.cancel_requested:
            job.status, job.finished_at, job.runner = JobStatus.CANCELLED, timezone.now(), ""
            job.save(update_fields=["status", "finished_at", "runner"])
            job_log(job, "cancelled before it could resume")
            return None
        job.runner = uuid.uuid4().hex
        job.status = JobStatus.RUNNING
        job.heartbeat_at = timezone.now()
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.error = ""
        job.save(update_fields=["runner", "status", "heartbeat_at", "attempts", "started_at", "error"])
        where = f"{socket.gethostname()} pid {os.getpid()}"
        verb = "started" if job.attempts == 1 else "resumed"
        job_log(job, f"attempt {job.attempts} {verb} on {where}")
    return Run(model, job_id, job.runner), job


def run_job(model: type[J], job_id: int, work: Callable[[Run, J], None]) -> None:
    """Claim the job and do the work with a heartbeat; record how it ended. Safe to call twice."""
    claimed = _claim(model, job_id)
    if claimed is None:
        return
    run, job = claimed
    run._thread.start()
    try:
        work(run, job)
    except JobStopped:
        if run.stop_reason == "cancelled":
            run.finish(JobStatus.CANCELLED, line="cancelled; what was saved so far stays")
        # "lost": another run holds the job now; leave it alone
    except DomainError as exc:
        run.finish(JobStatus.FAILED, error=exc.detail, line=f"failed: {exc.detail}")
    except OperationalError:
        run.release("the database connection failed; the job goes back to the queue")
        raise  # Celery retries the task
    except Exception as exc:
        tail = "".join(traceback.format_exception(exc)[-3:]).strip()
        run.finish(JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}", line=f"failed:\n{tail}")
        raise
    finally:
        run._stopped.set()
        run._thread.join(timeout=30)
