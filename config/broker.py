"""Sending a job to the Celery broker: fail fast, with a clear 503, when the broker cannot be reached."""

from typing import Any

from django.db import models
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from core.errors import DomainError


class QueueUnavailable(DomainError):
    status = 503
    code = "queue_unavailable"


def enqueue(task: Any, *, job: models.Model, what: str) -> None:
    """Send `task(job.pk)`; when the broker is unreachable the queued job is marked failed and
    QueueUnavailable is raised, so the caller says so instead of showing a job that will never run.

    How long a send may try is settings.CELERY_BROKER_CONNECTION_TIMEOUT and CELERY_TASK_PUBLISH_RETRY_POLICY.
    """
    try:
        task.apply_async(args=[job.pk])
    except BrokerUnavailable as exc:
        detail = f"the job queue is unreachable ({exc}); {what} was not started"
        type(job).objects.filter(pk=job.pk, status="queued").update(
            status="failed", error=detail, finished_at=timezone.now()
        )
        raise QueueUnavailable(f"{detail}. Start the broker (Redis) and try again.") from exc
