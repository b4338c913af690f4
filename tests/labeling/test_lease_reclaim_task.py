import time
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import Assignment, Task
from labeling.services.queue import claim_next_task
from labeling.tasks import reclaim_expired_leases
from tests.factories import seed_rankings


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_returns_expired_leases_to_the_pool(project, add_member, celery_worker):
    seed_rankings(project, 2)
    assignment = claim_next_task(project=project, labeler=add_member(project, "lea"))
    Assignment.objects.filter(pk=assignment.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    celery_worker()

    reclaim_expired_leases.delay()

    deadline = time.monotonic() + 30
    while Assignment.objects.get(pk=assignment.pk).state != "expired" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Assignment.objects.get(pk=assignment.pk).state == "expired"
    assert Task.objects.get(pk=assignment.task_id).claimed_count == 0
