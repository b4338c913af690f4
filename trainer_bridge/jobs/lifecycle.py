"""How a job runs: one live run per job, a heartbeat, progress, cancel, retry, and resume after a lost worker.

A run claims its job by writing a fresh token into `runner`; every write it makes afterwards is
conditional on still holding that token, and a thread beats `heartbeat_at` while it works. When a
worker dies (kill -9, OOM, a lost machine) its heartbeat stops; `jobs_resume_stale` queues the job
again and the next run picks up from what was saved (candidates stored per batch, training
checkpoints, answers per item; an export starts its file again). A redelivered or duplicated Celery
message finds the job held by a live run, or finished, and does nothing.
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
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.module_loading import import_string

from core.errors import Conflict, DomainError
from core.types import User
from labeling.access import require_role
from labeling.models import Role
from trainer_bridge.jobs.kinds import KINDS, detail
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.models import Job, JobStatus

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # a job whose worker dies this many times fails instead of being queued again
JOB_ROLE = Role.ADMIN  # starting jobs that run a model (each kind says who manages it: KINDS)
VIEW_ROLE = Role.REVIEWER  # seeing jobs, models and their logs
Progress = Callable[[int, int], None]  # (done, total), for a progress bar where the job runs inline


class JobStopped(Exception):
    """Raised inside a run when its job was cancelled or another run took it over."""


def _line(text: str) -> Value:
    return Value(f"{timezone.now():%Y-%m-%d %H:%M:%S} {text}\n")


def job_log(job: Job, line: str) -> None:
    """Append a line to the job's log (one UPDATE; the log is never rewritten)."""
    Job.objects.filter(pk=job.pk).update(log=Concat(F("log"), _line(line)))


def _who(user: User | None) -> str:
    return user.get_username() if user is not None else "the system"


@transaction.atomic
def job_cancel(*, job: Job, user: User | None) -> Job:
    """A queued job is cancelled at once; a running one stops at its next batch or step."""
    if user is not None:
        require_role(user=user, project=job.project, role=KINDS[job.type].manage_role)
    locked = Job.objects.select_for_update().get(pk=job.pk)
    if locked.status == JobStatus.QUEUED:
        locked.status, locked.finished_at = JobStatus.CANCELLED, timezone.now()
        locked.save(update_fields=["status", "finished_at"])
        job_log(locked, f"cancelled by {_who(user)} before it started")
    elif locked.status == JobStatus.RUNNING:
        if not locked.cancel_requested:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
            job_log(locked, f"cancel asked by {_who(user)}; stopping at the next batch or step")
    else:
        raise Conflict(f"the job is {locked.status}; only a queued or running job can be cancelled")
    return detail(locked)


@transaction.atomic
def job_retry(*, job: Job, user: User | None) -> Job:
    """Queue a failed or cancelled job again; it resumes from what it saved (nothing is done twice)."""
    if user is not None:
        require_role(user=user, project=job.project, role=KINDS[job.type].manage_role)
    locked = Job.objects.select_for_update().get(pk=job.pk)
    if locked.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise Conflict(f"the job is {locked.status}; only a failed or cancelled job can be retried")
    locked.status, locked.cancel_requested, locked.error, locked.finished_at = (
        JobStatus.QUEUED,
        False,
        "",
        None,
    )
    locked.save(update_fields=["status", "cancel_requested", "error", "finished_at"])
    job_log(locked, f"retried by {_who(user)}; resuming from what was saved")
    job_dispatch(locked)
    return detail(locked)


def jobs_resume_stale(*, stale_seconds: float | None = None) -> list[int]:
    """Queue again every running job whose heartbeat stopped (its worker died); returns their ids."""
    stale_after = timedelta(seconds=settings.JOB_STALE_SECONDS if stale_seconds is None else stale_seconds)
    touched = []
    with transaction.atomic():
        stale = Job.objects.select_for_update(skip_locked=True).filter(
            Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=timezone.now() - stale_after),
            status=JobStatus.RUNNING,
        )
        for job in stale:
            since = f"{job.heartbeat_at:%H:%M:%S}" if job.heartbeat_at else "?"
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
            touched.append(job.pk)
    return touched


class Run:
    """One attempt at a job, holding it by its token; the work calls `check()` / `update()` as it goes."""

    def __init__(self, job_id: int, token: str, on_progress: Progress | None = None) -> None:
        self.job_id, self.token, self.on_progress = job_id, token, on_progress
        self.stop_reason: str | None = None  # "cancelled" or "lost"
        self._stopped = threading.Event()
        self._last_check = 0.0
        self._reported: tuple[int, int] | None = None
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat", daemon=True)

    @property
    def _held(self) -> Any:
        return Job.objects.filter(pk=self.job_id, runner=self.token)

    # --- the heartbeat thread, on a database connection of its own ---

    def _beat(self) -> None:
        every = min(0.5, settings.JOB_HEARTBEAT_SECONDS)
        last_beat, written = time.monotonic(), None
        try:
            while not self._stopped.wait(every):
                try:
                    reported = self._reported
                    beat = time.monotonic() - last_beat >= settings.JOB_HEARTBEAT_SECONDS
                    if reported is not None and reported != written:
                        self._held.update(progress_done=reported[0], progress_total=reported[1])
                        written = reported
                    if beat:
                        self._poll(beat=True)
                        last_beat = time.monotonic()
                except Exception:  # a missed beat is not a failed job; the next one may get through
                    log.exception("heartbeat of job %s failed", self.job_id)
        finally:
            connection.close()

    def _poll(self, *, beat: bool) -> None:
        if beat:
            self._held.update(heartbeat_at=timezone.now())
        state = self._held.values_list("cancel_requested", flat=True).first()
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

    def report(self, done: int, total: int) -> None:
        """Progress from work that runs inside one long transaction: the heartbeat thread writes it."""
        self._reported = (done, total)
        if self.on_progress is not None:
            self.on_progress(done, total)

    def update(self, **fields: Any) -> None:
        """Write the job's own fields while holding it; raises JobStopped when it is no longer this run's."""
        if not self._held.update(heartbeat_at=timezone.now(), **fields):
            self.stop_reason = "lost"
            raise JobStopped("lost")
        if self.on_progress is not None and "progress_done" in fields:
            done, total = self._held.values_list("progress_done", "progress_total").first() or (0, 0)
            self.on_progress(done, total)

    def log(self, line: str) -> None:
        self._held.update(log=Concat(F("log"), _line(line)))

    def finish(self, status: str, *, error: str = "", line: str = "", **fields: Any) -> bool:
        with transaction.atomic():  # whoever sees the job finished sees its last line too
            done = self._held.update(
                status=status, runner="", finished_at=timezone.now(), error=error, **fields
            )
            if done and line:
                job_log(Job(pk=self.job_id), line)
        return bool(done)

    def release(self, line: str) -> None:
        """Hand the job back to the queue (a database error; Celery retries the task)."""
        self._held.update(status=JobStatus.QUEUED, runner="")
        job_log(Job(pk=self.job_id), line)


def _claim(job_id: int, on_progress: Progress | None) -> tuple[Run, Job] | None:
    """Take the job unless it is finished, cancelled, or held by a run whose heartbeat is fresh."""
    stale_after = timedelta(seconds=settings.JOB_STALE_SECONDS)
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
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
        verb = "started" if job.attempts == 1 else "resumed"
        job_log(job, f"attempt {job.attempts} {verb} on {socket.gethostname()} pid {os.getpid()}")
    return Run(job_id, job.runner, on_progress), detail(job)


def job_run(*, job_id: int, on_progress: Progress | None = None) -> None:
    """Claim the job and do its kind's work with a heartbeat; record how it ended. Safe to call twice."""
    claimed = _claim(job_id, on_progress)
    if claimed is None:
        return
    run, job = claimed
    work: Callable[[Run, Any], None] = import_string(KINDS[job.type].work)
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
