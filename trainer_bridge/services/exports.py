"""Export jobs: an export of a snapshot or a practice set, started from the web or the API, runs in a Celery
worker and reports progress."""

from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from core.errors import Conflict, DomainError, Gone, NotFound
from core.types import User
from curation.models import DatasetSnapshot, PracticeSet
from labeling.access import require_role
from labeling.models import Role
from trainer_bridge.exports.core import (
    check_practice_run,
    default_export_path,
    export_options,
    practice_export_options,
    practice_export_path,
    run_export,
    run_practice_export,
)
from trainer_bridge.jobs.lifecycle import Run, job_log
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.models import ExportJob, JobStatus, JobType, PracticeRun

EXPORT_ROLE = Role.REVIEWER  # reviewers and admins of the project may export its data


@transaction.atomic
def export_job_start(
    *, snapshot: DatasetSnapshot, kind: str, options: dict[str, Any] | None, user: User
) -> tuple[ExportJob, bool]:
    """Queue an export; the same snapshot and options give back the job that made (or makes) that file."""
    require_role(user=user, project=snapshot.project, role=EXPORT_ROLE)
    options = export_options(kind, options)
    same = ExportJob.objects.filter(snapshot=snapshot, kind=kind, options=options)
    if (found := _same_file(same)) is not None:
        return found, False
    job = ExportJob.objects.create(
        type=JobType.EXPORT,
        project=snapshot.project,
        snapshot=snapshot,
        kind=kind,
        options=options,
        created_by=user,
        file_path=str(default_export_path(snapshot, kind, options)),
    )
    job_log(job, f"queued: {kind} export of snapshot {snapshot.name}")
    job_dispatch(job)
    return job, True


@transaction.atomic
def practice_export_job_start(
    *,
    practice_set: PracticeSet,
    kind: str,
    run: PracticeRun | None = None,
    options: dict[str, Any] | None,
    user: User,
) -> tuple[ExportJob, bool]:
    """Queue an export of a practice set's problems, or of a finished run's solutions (sft, rm)."""
    require_role(user=user, project=practice_set.project, role=EXPORT_ROLE)
    options = practice_export_options(kind, options)
    check_practice_run(practice_set, run, kind)
    same = ExportJob.objects.filter(practice_set=practice_set, practice_run=run, kind=kind, options=options)
    if (found := _same_file(same)) is not None:
        return found, False
    job = ExportJob.objects.create(
        type=JobType.EXPORT,
        project=practice_set.project,
        practice_set=practice_set,
        practice_run=run,
        kind=kind,
        options=options,
        created_by=user,
        file_path=str(practice_export_path(practice_set, run, kind, options)),
    )
    of_run = f" (run {run.pk})" if run is not None else ""
    job_log(job, f"queued: {kind} export of practice set {practice_set.name}{of_run}")
    job_dispatch(job)
    return job, True


def _same_file(same: QuerySet[ExportJob]) -> ExportJob | None:
    """The job that made (or is making) the file of these options, unless it failed or its file is gone."""
    alive = same.exclude(status__in=(JobStatus.FAILED, JobStatus.CANCELLED)).order_by("-created_at", "-id")
    for job in alive[:1]:
        if job.status != JobStatus.DONE or Path(job.file_path).exists():
            return job
    return None


def export_job_for(*, job_id: int, user: User) -> ExportJob:
    job = (
        ExportJob.objects.select_related("project", "snapshot", "practice_set", "created_by")
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        raise NotFound("no such export")
    require_role(user=user, project=job.project, role=EXPORT_ROLE)
    return job


def export_work(run: Run, job: ExportJob) -> None:
    """Write the export's file from the start (it appears whole or not at all); progress is rows read."""
    # What a run killed midway left beside the file; no other run holds this job now.
    path = Path(job.file_path)
    for leftover in path.parent.glob(f"{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)

    def on_progress(done: int, total: int) -> None:
        run.report(done, total)
        run.check()  # a cancelled export stops at its next thousand rows; no file is left

    if job.practice_set is not None:
        result = run_practice_export(
            practice_set=job.practice_set,
            run=job.practice_run,
            kind=job.kind,
            path=path,
            options=job.options,
            on_progress=on_progress,
        )
    else:
        assert job.snapshot is not None  # a check constraint: an export is of one or the other
        result = run_export(
            snapshot=job.snapshot, kind=job.kind, path=path, options=job.options, on_progress=on_progress
        )
    ExportJob.objects.filter(pk=job.pk).update(
        rows_written=result.records, file_bytes=result.bytes, file_sha256=result.sha256
    )
    run.finish(
        JobStatus.DONE,
        progress_done=result.rows_read,
        progress_total=result.rows_read,
        line=f"done: {result.records} records, {result.bytes} bytes, sha256 {result.sha256[:12]}",
    )


def export_job_payload(job: ExportJob, *, download_url: str | None = None) -> dict[str, Any]:
    """What the API and the polling page show of a job."""
    return {
        "id": job.pk,
        "snapshot": job.snapshot_id,
        "practice_set": job.practice_set_id,
        "practice_run": job.practice_run_id,
        "source": job.source_name,
        "kind": job.kind,
        "options": job.options,
        "status": job.status,
        "progress": round(job.progress, 4),
        "rows_done": job.progress_done,
        "rows_total": job.progress_total,
        "rows_written": job.rows_written,
        "file_name": Path(job.file_path).name if job.file_path else "",
        "file_bytes": job.file_bytes,
        "file_sha256": job.file_sha256,
        "error": job.error,
        "created_by": job.created_by.get_username() if job.created_by else None,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "download_url": download_url if job.status == JobStatus.DONE else None,
    }


def export_job_file(job: ExportJob) -> Path:
    """The finished file of a job; a clear error while it runs, after it failed, or once the file is gone."""
    if job.status != JobStatus.DONE:
        raise Conflict(f"export {job.pk} is {job.status}, not done", field="status")
    path = Path(job.file_path)
    if not path.exists():
        raise Gone(f"the file of export {job.pk} is gone; start the export again")
    return path


__all__ = [
    "DomainError",
    "export_job_file",
    "export_job_for",
    "export_job_payload",
    "export_job_start",
    "practice_export_job_start",
]
