"""Active task selection on real models: a scoring job on a real worker writes each open ranking task's
uncertainty from the reward model's scores, and a retrain's new reward model re-scores the queue."""

import pytest

from labeling.active import ranking_uncertainty
from labeling.models import Candidate, Task, TaskRewardScores
from labeling.services.active import active_selection_set
from labeling.services.queue import claim_next_task
from registry.services import model_register
from tests.factories import seed_rankings
from tests.trainer_bridge.test_retrain_policy import accept_rankings
from tests.workers import gpu_worker, wait_for
from trainer_bridge.jobs.lifecycle import job_run
from trainer_bridge.models import JobStatus, ScoringJob
from trainer_bridge.services.retrain import retrain_policy_check, retrain_policy_create


def _expected(task: Task, model_path) -> list[float]:
    from trainer_bridge.ml.reward import score

    texts = Candidate.objects.in_bulk(task.candidate_ids)
    return score(model_path, task.prompt.messages, [texts[cid].text for cid in task.candidate_ids])


@pytest.mark.django_db(transaction=True)
def test_a_scoring_job_on_a_real_worker_sets_the_uncertainties_the_queue_follows(
    make_project, add_member, admin, api, celery_worker, tmp_path, tiny_model_dir, tiny_reward_model_dir
):
    project = make_project(kinds=["ranking"])
    seed_rankings(project, 5)
    warm = model_register(path=tiny_model_dir, name="tiny-warm")
    judge = model_register(path=tiny_reward_model_dir, name="tiny-judge", kind="rm", parent=warm)
    gpu_worker(celery_worker, tmp_path)

    body = (
        api(admin)
        .put(
            f"/api/projects/{project.pk}/active-selection/",
            {"queue_order": "uncertainty", "reward_model": judge.pk},
            format="json",
        )
        .json()
    )
    job = wait_for(ScoringJob.objects.get(pk=body["scoring_job"]), lambda j: j.status in ScoringJob.FINISHED)

    assert job.status == JobStatus.DONE and job.purpose == "queue", job.log
    assert "uncertainty written on 5 open ranking tasks" in job.log
    tasks = list(Task.objects.filter(project=project).select_related("prompt").order_by("pk"))
    for task in tasks:
        expected = _expected(task, judge.path)
        assert TaskRewardScores.objects.get(task=task).scores == pytest.approx(expected, abs=1e-4)
        assert task.uncertainty == pytest.approx(ranking_uncertainty(expected), abs=1e-4)
    most_uncertain = max(tasks, key=lambda t: (t.uncertainty, -t.pk))
    first = claim_next_task(project=project, labeler=add_member(project, "lea"))
    assert first.task_id == most_uncertain.pk


def test_a_retrain_makes_its_reward_model_the_queues_and_rescores_the_open_tasks(
    make_project, add_member, admin, base_model, model_root
):
    project = make_project(name="active", kinds=["ranking"], k=4)
    seed_rankings(project, 8)
    lea, rita = add_member(project, "lea"), add_member(project, "rita", "reviewer")
    active_selection_set(project=project, user=admin, queue_order="uncertainty", reward_model=None)
    policy = retrain_policy_create(
        project=project,
        user=admin,
        name="every 3 labels",
        kind="rm",
        base_model=base_model,
        min_new_annotations=3,
        interval_minutes=60,
        training_config_values={"max_steps": 2},
        validation_fraction=0.0,
    )
    project.refresh_from_db()
    accept_rankings(project, lea, rita, 3)  # no reward model yet: arrival order
    assert not Task.objects.filter(uncertainty__isnull=False).exists()

    run = retrain_policy_check(policy_id=policy.pk)
    job_run(job_id=run.training_job_id)
    run.training_job.refresh_from_db()
    new_model = run.training_job.output_model
    project.refresh_from_db()
    assert project.queue_reward_model == new_model
    scoring = ScoringJob.objects.get(project=project, purpose="queue")
    assert scoring.model_version == new_model and f"queued scoring job #{scoring.pk}" in run.training_job.log
    job_run(job_id=scoring.pk)
    scoring.refresh_from_db()
    assert scoring.status == JobStatus.DONE, scoring.log

    open_tasks = list(Task.objects.filter(project=project, status="open").select_related("prompt"))
    assert len(open_tasks) == 5 and all(t.uncertainty is not None for t in open_tasks)
    for task in open_tasks:
        assert task.uncertainty == pytest.approx(
            ranking_uncertainty(_expected(task, new_model.path)), abs=1e-4
        )
    most_uncertain = max(open_tasks, key=lambda t: (t.uncertainty, -t.pk))
    assert claim_next_task(project=project, labeler=add_member(project, "otto")).task_id == most_uncertain.pk
