from celery import shared_task
from django.db import OperationalError

from labeling.services.queue import leases_reclaim_expired


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def reclaim_expired_leases() -> None:
    """Return expired leases to the pool, so counts and dashboards stay true between claims."""
    leases_reclaim_expired()
