"""Celery entry points: ids in, idempotent, thin.

Probe and practice runs load a model, so they go to the `gpu` queue (settings.CELERY_TASK_ROUTES
routes every `gpu_*` task there). The services import torch only inside the run, so the web
process never loads it.
"""

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def gpu_probe(run_id: int) -> None:
    from curation.probing import probe_run_execute

    probe_run_execute(run_id=run_id)  # a finished run is left alone; a stopped one resumes


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def gpu_practice(run_id: int) -> None:
    from curation.practice import practice_run_execute

    practice_run_execute(run_id=run_id)
