"""GRPO jobs on a practice set: started from the page, the API or the command; curves; resume; lineage."""

import pytest
from django.core.management import call_command

from core.errors import DomainError
from curation.practice import practice_set_upload
from registry.models import ModelVersion
from registry.services import model_register
from tests.factories import jsonl
from tests.workers import gpu_worker, wait_for
from trainer_bridge.jobs.lifecycle import job_run, jobs_resume_stale
from trainer_bridge.ml.toy_sums import sum_problems
from trainer_bridge.models import GRPOJob, JobStatus
from trainer_bridge.selectors import model_lineage
from trainer_bridge.services.grpo import grpo_job_start

# Small and cheap: two problems a step, two solutions each, four tokens a solution.
SMALL = {"problems_per_step": 2, "num_generations": 2, "max_completion_length": 4, "lr": 1e-4}


@pytest.fixture
def sums(project, admin):
    """Thirty one-digit sums, a third of them held out."""
    return practice_set_upload(
        project=project,
        name="sums",
        stream=jsonl(sum_problems(digits=1, seed=0)[:30]),
        uploaded_by=admin,
        seed=0,
        validation_fraction=0.3,
    )


@pytest.fixture
def reward_model(untrained_model_dir, base_model, project):
    """A reward model with a fresh score head: enough to be scored beside the verifier."""
    return model_register(
        path=untrained_model_dir, name="tiny-rm", kind="rm", project_id=project.pk, parent=base_model
    )


def test_a_grpo_job_records_its_curves_and_registers_a_policy_that_walks_back_to_the_practice_set(
    client, sums, base_model, reward_model, admin, model_root
):
    job = grpo_job_start(
        practice_set=sums,
        base_model=base_model,
        reward_model=reward_model,
        user=admin,
        config={**SMALL, "max_steps": 4, "eval_every": 2, "checkpoint_every": 2, "patience": 0},
    )

    job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.log
    points = dict(job.metric_points.values_list("step", "values"))
    assert sorted(points) == [0, 1, 2, 3, 4]
    assert [s for s in sorted(points) if "heldout_pass_rate" in points[s]] == [0, 2, 4]
    for step in (1, 2, 3, 4):
        assert {"mean_reward", "kl", "response_length", "verifier_reward", "reward_model_score"} <= set(
            points[step]
        )
        gap = points[step]["reward_model_score"] - points[step]["verifier_reward"]
        assert points[step]["reward_gap"] == pytest.approx(gap)
    policy = job.output_model
    assert (policy.kind, policy.parent, policy.origin.practice_set, policy.origin.snapshot) == (
        "policy",
        base_model,
        sums,
        None,
    )
    assert model_lineage(model=policy) == [policy, base_model]

    client.force_login(admin)
    page = client.get(f"/projects/{sums.project_id}/models/{policy.pk}/").content.decode()
    assert "trained by GRPO on practice set" in page and ">sums</a>" in page
    assert f'data-practice-step="{policy.pk}"' in page
    body = client.get(f"/api/models/{policy.pk}/").json()
    assert body["practice_set"] == sums.pk and body["kind"] == "policy"
    job_page = client.get(f"/jobs/grpo/{job.pk}/").content.decode()
    for title in ("Reward", "Held-out pass rate", "KL to the reference", "Response length"):
        assert title in job_page
    assert "reward_model_score" in job_page  # the reward model's score is drawn beside the verifier's


def test_grpo_refuses_what_it_cannot_train_and_stores_nothing(
    sums, base_model, reward_model, admin, add_member
):
    cases = [
        ({"base_model": reward_model}, "base_model"),
        ({"reward_model": base_model}, "reward_model"),
        ({"config": {"beta": 0}}, "beta"),
        ({"config": {"num_generations": 1}}, "num_generations"),
        ({"config": {"max_steps": "many"}}, "max_steps"),
        ({"config": {"warmup": 3}}, "config"),
    ]
    for change, field in cases:
        with pytest.raises(DomainError) as refused:
            grpo_job_start(**{"practice_set": sums, "base_model": base_model, "user": admin, **change})
        assert refused.value.field == field
    with pytest.raises(DomainError):
        grpo_job_start(
            practice_set=sums, base_model=base_model, user=add_member(sums.project, "rita", "reviewer")
        )
    assert not GRPOJob.objects.exists()


def test_an_admin_starts_grpo_from_the_practice_set_page_and_the_api_and_a_labeler_cannot(
    client, sums, base_model, admin, add_member, api
):
    client.force_login(admin)
    page = client.get(f"/projects/{sums.project_id}/quality/practice/{sums.pk}/").content.decode()
    assert "Start GRPO" in page

    started = client.post(
        f"/projects/{sums.project_id}/quality/practice/{sums.pk}/grpo/",
        {"base_model": base_model.pk, "max_steps": "5", "num_generations": "4", "beta": "0.1"},
    )
    job = GRPOJob.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/jobs/grpo/{job.pk}/"
    assert (job.config["max_steps"], job.config["num_generations"], job.config["beta"]) == (5, 4, 0.1)

    url = f"/api/projects/{sums.project_id}/grpo-jobs/"
    bad = api(admin).post(
        url, {"practice_set": sums.pk, "base_model": base_model.pk, "config": {"beta": -1}}, format="json"
    )
    assert bad.status_code == 400 and "beta" in str(bad.json())
    labeler = api(add_member(sums.project, "lea"))
    assert labeler.post(url, {"practice_set": sums.pk, "base_model": base_model.pk}).status_code == 403
    ok = api(admin).post(url, {"practice_set": sums.pk, "base_model": base_model.pk}, format="json")
    assert ok.status_code == 202 and ok.json()["practice_set"] == sums.pk
    assert GRPOJob.objects.count() == 2


def test_train_grpo_names_a_missing_practice_set(db, base_model):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--practice-set: no practice set 999"):
        call_command("train_grpo", "--practice-set", "999", "--model", base_model.name)


@pytest.mark.django_db(transaction=True)
def test_a_grpo_job_whose_worker_is_killed_resumes_from_its_last_checkpoint(
    sums, base_model, admin, celery_worker, model_root
):
    worker = gpu_worker(celery_worker, model_root)
    job = grpo_job_start(
        practice_set=sums,
        base_model=base_model,
        user=admin,
        config={**SMALL, "max_steps": 30, "eval_every": 10, "checkpoint_every": 2, "patience": 0},
    )

    job = wait_for(job, lambda j: j.progress_done >= 5, timeout=300)
    worker.kill()
    killed_at = GRPOJob.objects.get(pk=job.pk).progress_done
    assert 5 <= killed_at < 30

    gpu_worker(celery_worker, model_root)
    assert jobs_resume_stale(stale_seconds=0) == [job.pk]
    job = wait_for(job, lambda j: j.status in (JobStatus.DONE, JobStatus.FAILED), timeout=600)

    assert job.status == JobStatus.DONE, job.log
    assert job.attempts == 2
    resumed = int(job.log.split("resumed from the checkpoint at step ")[1].split()[0])
    # the processes may finish a step or two (and save it) in the instant between the kill and their end
    assert 4 <= resumed <= killed_at + 2 and resumed % 2 == 0
    steps = list(job.metric_points.order_by("step").values_list("step", flat=True))
    assert steps == list(range(0, 31))  # a step reported twice keeps one point
    assert ModelVersion.objects.filter(made_by_job=job).count() == 1
