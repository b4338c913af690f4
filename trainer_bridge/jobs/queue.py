"""Sending a job to the Celery broker: fail fast, with a clear 503, when the broker cannot be reached."""

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from core.errors import DomainError
from trainer_bridge.jobs.kinds import KINDS
from trainer_bridge.models import Job, JobStatus


class QueueUnavailable(DomainError):
    status = 503
    code = "queue_unavailable"


def enqueue(job: Job) -> None:
    """Send the job to its queue now; when the broker is unreachable the queued job is marked failed and
    QueueUnavailable is raised, so the caller says so instead of showing a job that will never run.

    How long a send may try is settings.CELERY_BROKER_CONNECTION_TIMEOUT and CELERY_TASK_PUBLISH_RETRY_POLICY.
    """
    from trainer_bridge import tasks  # the tasks module imports the services that import this one

    kind = KINDS[job.type]
    task = tasks.serve_run_job if kind.serves else tasks.gpu_run_job if kind.gpu else tasks.run_job
    try:
        task.apply_async(args=(job.pk,))
    except BrokerUnavailable as exc:
        detail = f"the job queue is unreachable ({exc}); the {KINDS[job.type].label} job was not started"
        stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
        Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.FAILED,
            error=detail,
            finished_at=timezone.now(),
            log=Concat(F("log"), Value(f"{stamp} {detail}\n")),
        )
        raise QueueUnavailable(f"{detail}. Start the broker (Redis) and try again.") from exc


def job_dispatch(job: Job, *, robust: bool = False) -> None:
    """Send the job once the surrounding transaction commits (a 503 from the commit if the broker is down;
    with `robust`, for a job started as a side effect of other work, the job is marked failed and the error
    only logged)."""
    transaction.on_commit(lambda: enqueue(job), robust=robust)
