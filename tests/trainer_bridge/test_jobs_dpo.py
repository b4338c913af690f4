from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from core.errors import DomainError
from curation.snapshots import snapshot_freeze
from registry.models import ModelVersion
from registry.services import model_register
from tests.factories import rank_all, review_all, seed_rankings
from tests.workers import gpu_worker, wait_for
from trainer_bridge.jobs.lifecycle import job_run, jobs_resume_stale
from trainer_bridge.models import JobStatus, TrainingJob
from trainer_bridge.selectors import model_lineage, model_training_rows
from trainer_bridge.services.retrain import retrain_policy_create
from trainer_bridge.services.training import training_job_start

SMALL = {"max_steps": 3, "batch_size": 4, "log_every": 1, "eval_every": 3, "lr": 1e-3}


def test_a_dpo_job_trains_on_the_pairs_shows_its_curves_and_registers_a_policy_that_walks_back(
    snapshot, base_model, admin, model_root
):
    job = training_job_start(
        snapshot=snapshot,
        base_model=base_model,
        kind="dpo",
        user=admin,
        config=SMALL | {"loss_type": "ipo", "beta": 0.2, "processes": 2},  # torchrun, gloo on the CPU
        data_options={"by": "consensus"},
    )

    job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.log
    assert "ipo loss, beta 0.2, reference model tiny-base" in job.log
    points = dict(job.metric_points.values_list("step", "values"))
    assert sorted(points) == [1, 2, 3]
    assert {"train_loss", "reward_margin", "logp_chosen", "logp_rejected"} <= set(points[1])
    assert "val_loss" in points[3] and "val_loss" not in points[2]
    model = job.output_model
    assert (model.kind, model.parent, model.origin.snapshot) == ("policy", base_model, snapshot)
    assert Path(model.path, "model.safetensors").is_file() and model.metrics["processes"] == 2
    assert model_lineage(model=model) == [model, base_model]
    assert set(model_training_rows(model=model).values_list("kind", flat=True)) == {"ranking"}
    # the job page draws the curves
    client = Client()
    client.force_login(admin)
    page = client.get(f"/jobs/training/{job.pk}/").content.decode()
    assert "Reward margin (chosen minus rejected)" in page
    assert "Log-probability of the chosen and rejected answers" in page


def test_dpo_refusals_name_the_field(labeled, snapshot, base_model, admin, model_root):
    reward_model = model_register(
        path=base_model.path, name="an-rm", kind="rm", parent=base_model, project_id=labeled.pk
    )
    with pytest.raises(DomainError, match="cannot start from a rm model") as refused:
        training_job_start(snapshot=snapshot, base_model=reward_model, kind="dpo", user=admin)
    assert refused.value.field == "base_model"
    demos = snapshot_freeze(project=labeled, name="demos", created_by=admin, kinds=["demonstration"])
    with pytest.raises(DomainError, match="no ranking rows") as refused:
        training_job_start(snapshot=demos, base_model=base_model, kind="dpo", user=admin)
    assert refused.value.field == "snapshot"
    with pytest.raises(DomainError, match="loss_type is one of") as refused:
        training_job_start(
            snapshot=snapshot, base_model=base_model, kind="dpo", user=admin, config={"loss_type": "best"}
        )
    assert refused.value.field == "loss_type"
    with pytest.raises(DomainError, match="beta must be above 0") as refused:
        training_job_start(
            snapshot=snapshot, base_model=base_model, kind="dpo", user=admin, config={"beta": 0}
        )
    assert refused.value.field == "beta"
    assert not TrainingJob.objects.exists()


def test_rankings_that_tie_every_answer_give_no_pair_and_are_refused(
    make_project, add_member, admin, base_model, model_root
):
    project = make_project(name="ties", kinds=["ranking"])
    seed_rankings(project, 3)
    review_all(
        rank_all(project, add_member(project, "lea"), lambda task: [list(task.candidate_ids)]),
        add_member(project, "rita", "reviewer"),
    )
    tied = snapshot_freeze(project=project, name="all tied", created_by=admin, validation_fraction=0)
    with pytest.raises(DomainError, match="give no preference pair") as refused:
        training_job_start(snapshot=tied, base_model=base_model, kind="dpo", user=admin)
    assert refused.value.field == "snapshot"


def test_the_api_and_the_form_refuse_a_bad_dpo_setting_with_a_400_naming_it(
    snapshot, base_model, admin, api, model_root
):
    response = api(admin).post(
        f"/api/projects/{snapshot.project_id}/training-jobs/",
        {
            "kind": "dpo",
            "snapshot": snapshot.pk,
            "base_model": base_model.pk,
            "config": {"beta": "much"},
            "data_options": {"by": "labeler"},
        },
        format="json",
    )
    assert response.status_code == 400 and "beta" in response.content.decode()
    response = api(admin).post(
        f"/api/projects/{snapshot.project_id}/training-jobs/",
        {"kind": "dpo", "snapshot": snapshot.pk, "base_model": base_model.pk, "config": {"lora_r": 4}},
        format="json",
    )
    assert response.status_code == 202
    job = TrainingJob.objects.get()
    assert (job.kind, job.config["lora_r"], job.data_options) == ("dpo", 4, {"by": "labeler"})

    client = Client()
    client.force_login(admin)
    form = {
        "kind": "dpo",
        "snapshot": snapshot.pk,
        "base_model": base_model.pk,
        "loss_type": "sigmoid",
        "beta": "0.3",
        "by": "consensus",
        "output_name": "from-the-form",
    }
    response = client.post(f"/projects/{snapshot.project_id}/jobs/training/", form)
    assert response.status_code == 302
    job = TrainingJob.objects.get(output_name="from-the-form")
    assert (job.config["beta"], job.config["loss_type"]) == (0.3, "sigmoid")
    assert job.data_options == {"by": "consensus"}


def test_train_dpo_command_and_a_retrain_policy_of_dpo(snapshot, base_model, admin, model_root):
    out = StringIO()
    call_command(
        "train_dpo",
        "--snapshot", str(snapshot.pk), "--model", base_model.name, "--max-steps", "2", "--beta", "0.05",
        "--loss-type", "hinge", "--by", "consensus",
        stdout=out,
    )  # fmt: skip
    job = TrainingJob.objects.get()
    assert (job.kind, job.config["beta"], job.config["loss_type"]) == ("dpo", 0.05, "hinge")
    policy = retrain_policy_create(
        project=snapshot.project,
        user=admin,
        name="nightly dpo",
        kind="dpo",
        base_model=base_model,
        min_new_annotations=5,
        interval_minutes=60,
        training_config_values={"beta": 0.2},
    )
    assert (policy.kind, policy.training_config["beta"]) == ("dpo", 0.2)


@pytest.mark.django_db(transaction=True)
def test_a_dpo_job_whose_worker_is_killed_resumes_from_its_checkpoint(
    snapshot, base_model, admin, celery_worker, model_root
):
    worker = gpu_worker(celery_worker, model_root)
    job = training_job_start(
        snapshot=snapshot,
        base_model=base_model,
        kind="dpo",
        user=admin,
        config={"max_steps": 40, "batch_size": 2, "log_every": 1, "eval_every": 500, "checkpoint_every": 2},
    )

    job = wait_for(job, lambda j: j.progress_done >= 5)
    worker.kill()
    killed_at = TrainingJob.objects.get(pk=job.pk).progress_done
    assert 5 <= killed_at < 40

    gpu_worker(celery_worker, model_root)
    assert jobs_resume_stale(stale_seconds=0) == [job.pk]
    job = wait_for(job, lambda j: j.status in (JobStatus.DONE, JobStatus.FAILED))

    assert job.status == JobStatus.DONE, job.log
    assert job.attempts == 2
    resumed = int(job.log.split("resumed from the checkpoint at step ")[1].split()[0])
    # the training processes may outlive the killed worker by a moment and save a checkpoint it never heard of
    assert 4 <= resumed < 40 and resumed % 2 == 0
    steps = list(job.metric_points.order_by("step").values_list("step", flat=True))
    assert steps == list(range(1, 41))  # the resumed run reports again what its checkpoint logged
    assert ModelVersion.objects.filter(made_by_job=job).count() == 1
