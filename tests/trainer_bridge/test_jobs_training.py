import json
from pathlib import Path

import pytest
from django.test import Client

from core.errors import DomainError
from curation.models import SnapshotRow
from curation.snapshots import snapshot_freeze
from labeling.models import Demonstration, Ranking
from registry.models import ModelVersion
from tests.workers import gpu_worker, wait_for
from trainer_bridge.jobs.lifecycle import job_run, jobs_resume_stale
from trainer_bridge.models import JobStatus, TrainingJob
from trainer_bridge.selectors import model_lineage, model_training_rows
from trainer_bridge.services.training import training_job_start

SFT_KINDS = ["demonstration", "refusal", "search"]


def training_processes(job: TrainingJob) -> list[int]:
    """Pids of the processes training this job (their command line names its launch config)."""
    marker = str(Path(job.output_dir) / "launch" / "config.json").encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def metric_steps(job: TrainingJob) -> list[int]:
    return list(job.metric_points.order_by("step").values_list("step", flat=True))


def test_an_sft_job_trains_writes_metrics_and_registers_a_model_that_walks_back_to_its_labels(
    snapshot, base_model, admin, model_root
):
    job = training_job_start(
        snapshot=snapshot,
        base_model=base_model,
        kind="sft",
        user=admin,
        config={"max_steps": 4, "batch_size": 4, "log_every": 1, "eval_every": 2, "lr": 1e-3},
    )

    job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.log
    assert (job.progress_done, job.progress_total) == (4, 4)
    assert metric_steps(job) == [1, 2, 3, 4]
    points = dict(job.metric_points.values_list("step", "values"))
    assert all(points[s]["train_loss"] > 0 for s in (1, 2, 3, 4))
    assert "val_loss" in points[2] and "val_loss" in points[4] and "val_loss" not in points[1]
    model = job.output_model
    assert (model.kind, model.parent, model.origin.snapshot, model.project) == (
        "sft",
        base_model,
        snapshot,
        snapshot.project,
    )
    assert Path(model.path, "config.json").is_file() and model.path.startswith(str(model_root))
    assert model_lineage(model=model) == [model, base_model]
    trained_on = set(model_training_rows(model=model).values_list("kind", "annotation_id"))
    accepted = {
        (kind, pk)
        for kind, pk in Demonstration.objects.filter(task__project=snapshot.project).values_list(
            "task__kind", "pk"
        )
    }
    train_split = set(
        SnapshotRow.objects.filter(snapshot=snapshot, split="train").values_list("kind", "annotation_id")
    )
    # what it learned from: the accepted demonstrations of every SFT kind in the train split, no ranking
    assert trained_on == accepted & train_split
    assert {kind for kind, _ in trained_on} == set(SFT_KINDS)
    assert not Ranking.objects.filter(pk__in=[pk for kind, pk in trained_on if kind == "ranking"]).exists()


def test_a_model_trained_from_a_trained_model_reaches_the_labels_of_both_snapshots(
    snapshot, base_model, admin, model_root
):
    first = training_job_start(
        snapshot=snapshot, base_model=base_model, kind="sft", user=admin, config={"max_steps": 1}
    )
    job_run(job_id=first.pk)
    first.refresh_from_db()
    later = snapshot_freeze(project=snapshot.project, name="everything v2", created_by=admin)
    second = training_job_start(
        snapshot=later, base_model=first.output_model, kind="rm", user=admin, config={"max_steps": 1}
    )
    job_run(job_id=second.pk)
    second.refresh_from_db()

    rm = second.output_model
    assert [m.kind for m in model_lineage(model=rm)] == ["rm", "sft", "base"]
    rows = model_training_rows(model=rm)
    sft_rows = SnapshotRow.objects.filter(snapshot=snapshot, kind__in=SFT_KINDS, split="train")
    rm_rows = SnapshotRow.objects.filter(snapshot=later, kind="ranking", split="train")
    assert rows.count() == sft_rows.count() + rm_rows.count() > 0  # each step counts what it learned from
    assert set(rows.values_list("snapshot_id", flat=True)) == {snapshot.pk, later.pk}

    client = Client()
    client.force_login(admin)
    page = client.get(f"/projects/{snapshot.project_id}/models/{rm.pk}/").content.decode()
    chain = page[page.index('class="lineage-chain"') :]
    assert "trained on snapshot <strong>everything v2</strong>" in chain
    assert "trained on snapshot <strong>everything v1</strong>" in chain
    assert chain.count("registered base model") == 1  # only the base learned from no snapshot


def test_a_reward_model_job_trains_on_rankings_and_registers_an_rm(snapshot, base_model, admin, model_root):
    job = training_job_start(
        snapshot=snapshot,
        base_model=base_model,
        kind="rm",
        user=admin,
        config={"max_steps": 3, "groups_per_batch": 2, "log_every": 1, "eval_every": 3},
        data_options={"by": "labeler"},
    )

    job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.log
    assert metric_steps(job) == [1, 2, 3]
    last = job.metric_points.get(step=3).values
    assert 0 <= last["val_pair_accuracy"] <= 1 and 0 <= last["train_pair_accuracy"] <= 1
    assert last["train_sequence_forwards"] == 3 * 2 * 4  # steps × rankings × K: one forward per answer
    model = job.output_model
    assert (
        model.kind == ModelVersion.Kind.RM
        and model.parent == base_model
        and model.origin.snapshot == snapshot
    )
    assert model.metrics["val_pair_accuracy"] == last["val_pair_accuracy"]
    config = json.loads(Path(model.path, "config.json").read_text())
    assert config["architectures"] == ["LlamaForSequenceClassification"] and len(config["id2label"]) == 1


def test_a_reward_model_cannot_start_from_a_snapshot_without_rankings(labeled, base_model, admin, model_root):
    demonstrations = snapshot_freeze(project=labeled, name="demos", created_by=admin, kinds=["demonstration"])
    with pytest.raises(DomainError, match="no ranking rows"):
        training_job_start(snapshot=demonstrations, base_model=base_model, kind="rm", user=admin)
    assert not TrainingJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_sft_job_whose_worker_is_killed_resumes_from_its_checkpoint(
    snapshot, base_model, admin, celery_worker, model_root
):
    worker = gpu_worker(celery_worker, model_root)  # the job's checkpoints go under the test's own directory
    job = training_job_start(
        snapshot=snapshot,
        base_model=base_model,
        kind="sft",
        user=admin,
        config={"max_steps": 150, "batch_size": 2, "log_every": 1, "eval_every": 500, "checkpoint_every": 2},
    )

    job = wait_for(job, lambda j: j.progress_done >= 5)
    worker.kill()
    killed_at = TrainingJob.objects.get(pk=job.pk).progress_done
    assert 5 <= killed_at < 150
    # the training processes run in a session of their own: they die with the worker that supervised them
    wait_for(job, lambda j: not training_processes(j), timeout=10)
    assert not training_processes(job)

    gpu_worker(celery_worker, model_root)
    assert jobs_resume_stale(stale_seconds=0) == [job.pk]
    job = wait_for(job, lambda j: j.status in (JobStatus.DONE, JobStatus.FAILED))

    assert job.status == JobStatus.DONE, job.log
    assert job.attempts == 2
    resumed = int(job.log.split("resumed from the checkpoint at step ")[1].split()[0])
    # the processes may finish a step or two (and save it) in the instant between the kill and their end
    assert 4 <= resumed and resumed % 2 == 0
    assert metric_steps(job) == list(range(1, 151))  # a step reported twice keeps one point
    assert ModelVersion.objects.filter(made_by_job=job).count() == 1
