"""Celery entry points: ids in, idempotent, thin."""

from celery import shared_task
from django.db import OperationalError

from trainer_bridge.exports.jobs import export_job_run


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def run_export_job(job_id: int) -> None:
    export_job_run(job_id=job_id)  # a finished job with its file is left alone, so a redelivery is harmless


# --- models, generation and training -------------------------------------------------------------
# Tasks named gpu_* go to the `gpu` queue (settings.CELERY_TASK_ROUTES), served by one worker per GPU.
# The services import torch only inside the run, so the web process never loads it.


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def gpu_generate(job_id: int) -> None:
    from trainer_bridge.generation import generation_job_run

    generation_job_run(job_id=job_id)  # a job held by a live run, or finished, is left alone


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def gpu_train(job_id: int) -> None:
    from trainer_bridge.training import training_job_run

    training_job_run(job_id=job_id)  # resumes from the newest checkpoint; a finished job is left alone


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def jobs_resume_stale(stale_seconds: float | None = None) -> None:
    """Queue again the GPU jobs whose worker died (no heartbeat); they resume from what they saved."""
    from trainer_bridge.job_runs import jobs_resume_stale as resume

    resume(stale_seconds=stale_seconds)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def retrain_policy_check(policy_id: int) -> None:
    """Run by django-celery-beat on each policy's schedule."""
    from trainer_bridge.retrain import retrain_policy_check as check

    check(policy_id=policy_id)
