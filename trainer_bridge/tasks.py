"""Celery entry points: ids in, idempotent, thin.

Every job runs through `run_job` (CPU work) or `gpu_run_job` (work that loads a model): tasks named
gpu_* go to the `gpu` queue (settings.CELERY_TASK_ROUTES), served by one worker per GPU. The work
imports torch only inside the run, so the web process never loads it.
"""

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def run_job(job_id: int) -> None:
    from trainer_bridge.jobs.lifecycle import job_run

    job_run(job_id=job_id)  # a job held by a live run, or finished, is left alone


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def gpu_run_job(job_id: int) -> None:
    from trainer_bridge.jobs.lifecycle import job_run

    job_run(job_id=job_id)  # resumes from what the job saved; a finished job is left alone


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def serve_run_job(job_id: int) -> None:
    """A serving job: runs as long as its model server does (the `serve` queue, on the server's machine)."""
    from trainer_bridge.jobs.lifecycle import job_run

    job_run(job_id=job_id)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def model_servers_check() -> None:
    """Ask every live model server whether it answers, and record what it said."""
    from trainer_bridge.services.servers import model_servers_check as check

    check()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def jobs_resume_stale(stale_seconds: float | None = None) -> None:
    """Queue again the jobs whose worker died (no heartbeat); they resume from what they saved."""
    from trainer_bridge.jobs.lifecycle import jobs_resume_stale as resume

    resume(stale_seconds=stale_seconds)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def retrain_policy_check(policy_id: int) -> None:
    """Run by django-celery-beat on each policy's schedule."""
    from trainer_bridge.services.retrain import retrain_policy_check as check

    check(policy_id=policy_id)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def reply_drafts_schedule(project_id: int | None = None) -> None:
    """Start drafting replies where a project's model drafts are on and open tasks lack one: for one
    project (sent by an import once it commits), or for all (the beat, every minute)."""
    from labeling.models import Project
    from trainer_bridge.services import drafting

    if project_id is None:
        drafting.reply_drafts_schedule_all()
    elif (project := Project.objects.filter(pk=project_id).first()) is not None:
        drafting.reply_drafts_schedule(project=project)
