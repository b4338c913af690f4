"""Export jobs: an export started from the web or the API runs in a Celery worker and reports progress."""

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from config.broker import enqueue
from core.errors import DomainError, NotFound
from curation.models import DatasetSnapshot
from labeling.access import require_role
from labeling.models import Role
from trainer_bridge.exports.core import default_export_path, export_options, run_export
from trainer_bridge.models import ExportJob

log = logging.getLogger(__name__)
EXPORT_ROLE = Role.REVIEWER  # reviewers and admins of the project may export its data


@transaction.atomic
def export_job_start(
    *, snapshot: DatasetSnapshot, kind: str, options: dict[str, Any] | None, user: AbstractBaseUser
) -> tuple[ExportJob, bool]:
    """Queue an export; the same snapshot and options give back the job that made (or makes) that file."""
    require_role(user=user, project=snapshot.project, role=EXPORT_ROLE)
    options = export_options(kind, options)
    same = ExportJob.objects.filter(snapshot=snapshot, kind=kind, options=options).order_by(
        "-created_at", "-id"
    )
    for job in same.exclude(status=ExportJob.Status.FAILED)[:1]:
        if job.status != ExportJob.Status.DONE or Path(job.file_path).exists():
            return job, False
    job = ExportJob.objects.create(
        snapshot=snapshot,
        kind=kind,
        options=options,
        created_by=user,
        file_path=str(default_export_path(snapshot, kind, options)),
    )
    from trainer_bridge.tasks import run_export_job  # tasks import this module

    transaction.on_commit(lambda: enqueue(run_export_job, job=job, what="the export"))
    return job, True


def export_job_for(*, job_id: int, user: AbstractBaseUser) -> ExportJob:
    job = ExportJob.objects.select_related("snapshot__project").filter(pk=job_id).first()
    if job is None:
        raise NotFound("no such export")
    require_role(user=user, project=job.snapshot.project, role=EXPORT_ROLE)
    return job


def export_job_run(*, job_id: int) -> ExportJob:
    """Run a queued export; safe to run twice (a finished job with its file, or one a live run holds,
    is left as it is)."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().select_related("snapshot").get(pk=job_id)
        if job.status == ExportJob.Status.DONE and Path(job.file_path).exists():
            return job
        if job.status == ExportJob.Status.RUNNING and not _stale(job):
            return job  # a redelivered message while its first run is alive
        job.status, job.started_at, job.finished_at, job.error = (
            ExportJob.Status.RUNNING,
            timezone.now(),
            None,
            "",
        )
        job.rows_done, job.heartbeat_at = 0, timezone.now()
        job.save(update_fields=["status", "started_at", "finished_at", "error", "rows_done", "heartbeat_at"])
    # What a run killed midway left beside the file; no other run holds this job now.
    path = Path(job.file_path)
    for leftover in path.parent.glob(f"{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)

    progress = _ProgressWriter(job.pk)
    try:
        result = run_export(
            snapshot=job.snapshot,
            kind=job.kind,
            path=Path(job.file_path),
            options=job.options,
            on_progress=progress,
        )
    except DomainError as exc:
        progress.stop()
        _finish(job, status=ExportJob.Status.FAILED, error=exc.detail)
        return job
    except Exception as exc:
        progress.stop()
        _finish(job, status=ExportJob.Status.FAILED, error=f"the export failed: {exc!r}")
        raise
    progress.stop()
    _finish(
        job,
        status=ExportJob.Status.DONE,
        rows_done=result.rows_read,
        rows_total=result.rows_read,
        rows_written=result.records,
        file_bytes=result.bytes,
        file_sha256=result.sha256,
    )
    return job


def _stale(job: ExportJob) -> bool:
    after = timedelta(seconds=settings.JOB_STALE_SECONDS)
    return job.heartbeat_at is None or job.heartbeat_at <= timezone.now() - after


def exports_resume_stale(*, stale_seconds: float | None = None) -> list[int]:
    """Queue again every running export whose heartbeat stopped (its worker died); returns their ids.

    A killed worker's message stays unacknowledged on the broker for hours (the visibility timeout),
    so without this the export would show as running for ever and block the same export.
    """
    from trainer_bridge.tasks import run_export_job  # tasks import this module

    after = timedelta(seconds=settings.JOB_STALE_SECONDS if stale_seconds is None else stale_seconds)
    resumed = []
    with transaction.atomic():
        stale = ExportJob.objects.select_for_update(skip_locked=True).filter(
            Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lte=timezone.now() - after),
            status=ExportJob.Status.RUNNING,
        )
        for job in stale:
            job.status = ExportJob.Status.QUEUED
            job.save(update_fields=["status"])
            transaction.on_commit(lambda job=job: enqueue(run_export_job, job=job, what="the export"))
            resumed.append(job.pk)
    return resumed


def _finish(job: ExportJob, **fields: Any) -> None:
    fields["finished_at"] = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


class _ProgressWriter:
    """Writes the latest progress twice a second, and the heartbeat, from its own thread, on its own
    database connection.

    The export reads inside one long transaction; progress written on that connection would stay
    invisible to the page that polls it until the export ends.
    """

    def __init__(self, job_id: int, every: float = 0.5) -> None:
        self.job_id, self.every = job_id, every
        self.latest: tuple[int, int] | None = None
        self.written: tuple[int, int] | None = None
        self.beaten = time.monotonic()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"export-{job_id}-progress", daemon=True)
        self.thread.start()

    def __call__(self, done: int, total: int) -> None:
        self.latest = (done, total)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()

    def _run(self) -> None:
        try:
            while not self.done.wait(self.every):
                self._flush()
            self._flush()
        except Exception:  # progress is a courtesy; the export must not fail because of it
            log.exception("could not record the progress of export job %s", self.job_id)
        finally:
            connection.close()

    def _flush(self) -> None:
        latest = self.latest
        beat = time.monotonic() - self.beaten >= settings.JOB_HEARTBEAT_SECONDS
        if (latest is None or latest == self.written) and not beat:
            return
        fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
        if latest is not None:
            fields["rows_done"], fields["rows_total"] = latest
        ExportJob.objects.filter(pk=self.job_id).update(**fields)
        self.written, self.beaten = latest, time.monotonic()


def export_job_payload(job: ExportJob, *, download_url: str | None = None) -> dict[str, Any]:
    """What the API and the polling page show of a job."""
    return {
        "id": job.pk,
        "snapshot": job.snapshot_id,
        "kind": job.kind,
        "options": job.options,
        "status": job.status,
        "progress": round(job.progress, 4),
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "rows_written": job.rows_written,
        "file_name": Path(job.file_path).name if job.file_path else "",
        "file_bytes": job.file_bytes,
        "file_sha256": job.file_sha256,
        "error": job.error,
        "created_by": job.created_by.get_username() if job.created_by_id else None,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "download_url": download_url if job.status == ExportJob.Status.DONE else None,
    }


def export_job_file(job: ExportJob) -> Path:
    """The finished file of a job; a clear error while it runs, after it failed, or once the file is gone."""
    from core.errors import Conflict, Gone

    if job.status != ExportJob.Status.DONE:
        raise Conflict(f"export {job.pk} is {job.status}, not done", field="status")
    path = Path(job.file_path)
    if not path.exists():
        raise Gone(f"the file of export {job.pk} is gone; start the export again")
    return path
