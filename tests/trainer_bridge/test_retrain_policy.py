import threading
from typing import Any

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from labeling.models import Project, Task
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from labeling.services.review import review_create
from tests.factories import by_text, seed_rankings
from trainer_bridge import tasks
from trainer_bridge.jobs.lifecycle import job_run
from trainer_bridge.models import JobStatus, RetrainPolicy, RetrainRun, TrainingJob
from trainer_bridge.services.retrain import (
    CHECK_TASK,
    retrain_policy_check,
    retrain_policy_create,
    retrain_policy_update,
)


def accept_rankings(project: Project, labeler: Any, reviewer: Any, n: int) -> None:
    """The labeler ranks n more tasks and the reviewer accepts each ranking."""
    for _ in range(n):
        assignment = claim_next_task(project=project, labeler=labeler)
        task = Task.objects.select_related("prompt").get(pk=assignment.task_id)
        ranking_submit(assignment_id=assignment.pk, labeler=labeler, tiers=by_text(task))
        review_create(assignment_id=assignment.pk, reviewer=reviewer, verdict="accept", reason="")


@pytest.fixture
def ranked(make_project, add_member):
    project = make_project(name="retrained", kinds=["ranking"], k=4)
    seed_rankings(project, 8)
    return project, add_member(project, "lea"), add_member(project, "rita", "reviewer")


@pytest.fixture
def policy(ranked, base_model, admin) -> RetrainPolicy:
    project, _, _ = ranked
    return retrain_policy_create(
        project=project,
        user=admin,
        name="nightly rm",
        kind="rm",
        base_model=base_model,
        min_new_annotations=3,
        interval_minutes=60,
        training_config_values={"max_steps": 1},
        validation_fraction=0.0,
    )


def outcomes(policy: RetrainPolicy) -> list[str]:
    return list(policy.runs.order_by("checked_at", "id").values_list("outcome", flat=True))


def test_a_policy_is_checked_by_a_beat_entry_on_its_schedule(policy):
    task = PeriodicTask.objects.get(pk=policy.periodic_task_id)
    assert task.task == CHECK_TASK == tasks.retrain_policy_check.name
    assert task.kwargs == f'{{"policy_id": {policy.pk}}}' and task.enabled
    assert (task.interval.every, task.interval.period) == (60, "minutes")

    retrain_policy_update(policy=policy, user=None, enabled=False, crontab="0 3 * * *")

    task.refresh_from_db()
    assert not task.enabled and task.interval is None
    assert (task.crontab.minute, task.crontab.hour) == ("0", "3")


def test_a_policy_fires_once_when_its_threshold_is_crossed_not_before_and_not_twice(
    policy, ranked, model_root
):
    project, lea, rita = ranked
    first = retrain_policy_check(policy_id=policy.pk)
    assert first.outcome == "skipped" and "0 of 3 new accepted labels" in first.reason
    accept_rankings(project, lea, rita, 2)
    assert "2 of 3" in retrain_policy_check(policy_id=policy.pk).reason

    accept_rankings(project, lea, rita, 1)
    started = retrain_policy_check(policy_id=policy.pk)

    assert started.outcome == "started" and started.new_annotations == 3
    assert started.snapshot.row_count == 3 and started.training_job.kind == "rm"
    assert f"started training job #{started.training_job_id}" in started.reason
    again = retrain_policy_check(policy_id=policy.pk)
    assert again.outcome == "skipped" and "a run is active" in again.reason

    job_run(job_id=started.training_job_id)
    assert TrainingJob.objects.get(pk=started.training_job_id).status == JobStatus.DONE
    after = retrain_policy_check(policy_id=policy.pk)
    assert (
        after.outcome == "skipped"
        and f"0 of 3 new accepted labels since snapshot {started.snapshot.name}" in (after.reason)
    )
    accept_rankings(project, lea, rita, 3)
    assert retrain_policy_check(policy_id=policy.pk).outcome == "started"
    assert outcomes(policy) == ["skipped", "skipped", "started", "skipped", "skipped", "started"]


def test_a_switched_off_policy_records_why_it_did_not_run(policy, ranked):
    project, lea, rita = ranked
    accept_rankings(project, lea, rita, 3)
    retrain_policy_update(policy=policy, user=None, enabled=False)

    run = retrain_policy_check(policy_id=policy.pk)

    assert (run.outcome, run.reason) == ("skipped", "the policy is switched off")
    assert not TrainingJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_checks_at_once_start_one_run(policy, ranked, celery_worker):
    # celery_worker routes the started job to this test run's own queue; no worker needs to take it.
    project, lea, rita = ranked
    accept_rankings(project, lea, rita, 3)
    barrier = threading.Barrier(2)

    def check() -> None:
        try:
            barrier.wait()
            retrain_policy_check(policy_id=policy.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes(policy)) == ["skipped", "started"]
    assert "a run is active" in RetrainRun.objects.get(policy=policy, outcome="skipped").reason
    assert TrainingJob.objects.count() == 1
