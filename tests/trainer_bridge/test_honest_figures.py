"""Figures on the job and model pages say what they count, warn when validation is impossible, and read
as numbers a person reads (0.824, not 0.8240740740740741); chart legends stay off the curves."""

import re

import pytest
from django.test import Client

from core.charts import Series, line_chart
from core.figures import figure
from curation.models import SnapshotRow
from curation.snapshots import snapshot_freeze
from registry.chat_templates import BUILTIN_TEMPLATES, TEMPLATE_FILE
from registry.models import ModelVersion
from trainer_bridge.jobs.lifecycle import job_run
from trainer_bridge.models import JobStatus, ModelOrigin
from trainer_bridge.services.training import training_job_start


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def unrun_base(db, tmp_path) -> ModelVersion:
    """A base model nothing loads here: only its chat template, which an SFT start checks."""
    (tmp_path / TEMPLATE_FILE).write_text(BUILTIN_TEMPLATES["chatml"])
    return ModelVersion.objects.create(name="base", kind="base", path=str(tmp_path))


def test_a_reward_model_counts_the_rankings_it_trained_on_not_every_row_of_its_snapshot(
    snapshot, unrun_base, admin
):
    rm = ModelVersion.objects.create(
        name="rm-1",
        kind="rm",
        path="/nowhere/rm",
        parent=unrun_base,
        project=snapshot.project,
        metrics={"val_pair_accuracy": 0.8240740740740741, "val_loss": 0.61234567, "step": 12000},
    )
    ModelOrigin.objects.create(model=rm, snapshot=snapshot)
    rows = SnapshotRow.objects.filter(snapshot=snapshot)
    trained = rows.filter(kind="ranking", split="train").count()
    held_out = rows.filter(kind="ranking", split="validation").count()
    assert 0 < trained < rows.count() and held_out > 0  # the snapshot also holds demonstrations

    page = _client(admin).get(f"/projects/{snapshot.project_id}/models/{rm.pk}/").content.decode()
    labels = _client(admin).get(f"/projects/{snapshot.project_id}/models/{rm.pk}/labels/").content.decode()

    assert f"<dd data-labels-trained>{trained}</dd>" in page
    assert f"<dd data-labels-validation>{held_out}</dd>" in page
    assert f"<td>ranking: {trained}</td>" in page and "demonstration" not in page
    assert (
        labels.count('data-annotation="ranking-') == trained
        and 'data-annotation="demonstration' not in labels
    )
    assert '<td data-metric="val_pair_accuracy">0.824</td>' in page
    assert '<td data-metric="val_loss">0.612</td>' in page and '<td data-metric="step">12,000</td>' in page
    assert "0.8240740740740741" not in page


def test_figures_read_as_numbers_for_people():
    assert figure(0.8240740740740741) == "0.824"
    assert figure(5e-05) == "5e-5" and figure(0.001) == "0.001"
    assert figure(12000) == "12,000" and figure(2.0) == "2" and figure(1234.5678) == "1,235"
    assert figure(None) == "—" and figure(float("nan")) == "—" and figure(True) == "yes"
    assert figure({"lr": 0.0003, "max_steps": 40, "kinds": ["demonstration", "search"]}) == (
        "lr 0.0003 · max_steps 40 · kinds demonstration, search"
    )


def test_an_sft_job_on_a_snapshot_without_validation_rows_is_warned_about_before_and_after_it_starts(
    labeled, unrun_base, admin
):
    bare = snapshot_freeze(project=labeled, name="no validation", created_by=admin, validation_fraction=0.0)
    split = snapshot_freeze(
        project=labeled, name="with validation", created_by=admin, validation_fraction=0.3
    )
    client = _client(admin)

    jobs_page = client.get(f"/projects/{labeled.pk}/jobs/").content.decode()

    assert (
        "Snapshot no validation has no validation conversations and no validation rankings: "
        "a job on it reports no validation loss." in jobs_page
    )
    assert "Snapshot with validation has no validation" not in jobs_page

    job = training_job_start(
        snapshot=bare, base_model=unrun_base, kind="sft", user=admin, config={"lr": 0.0003, "max_steps": 40}
    )
    checked = training_job_start(snapshot=split, base_model=unrun_base, kind="sft", user=admin)
    job_page = client.get(f"/jobs/training/{job.pk}/").content.decode()

    assert (
        "Snapshot no validation has no validation conversations: this job reports no validation loss"
        in job_page
    )
    assert "data-no-validation" not in client.get(f"/jobs/training/{checked.pk}/").content.decode()
    settings = re.search(r"<small class=\"muted\" data-settings>([^<]*)</small>", job_page)[1]
    assert set(settings.split(" · ")) >= {"lr 0.0003", "max_steps 40", "kinds demonstration, refusal, search"}


@pytest.mark.ml
def test_an_sft_run_with_no_validation_conversations_says_so_in_its_log(
    labeled, base_model, admin, model_root
):
    bare = snapshot_freeze(project=labeled, name="no validation", created_by=admin, validation_fraction=0.0)
    job = training_job_start(
        snapshot=bare, base_model=base_model, kind="sft", user=admin, config={"max_steps": 1, "batch_size": 2}
    )

    job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.log
    assert (
        "warning: the validation split of snapshot no validation holds no conversations: no validation loss "
        "will be reported" in job.log
    )


def test_a_line_chart_keeps_its_legend_above_the_plot_off_the_curves():
    svg = line_chart(
        [Series("train_loss", [(1, 2.5), (2, 2.0)]), Series("val_loss", [(1, 2.6), (2, 2.4)])],
        title="Loss",
    )

    plot_top = float(re.search(r'<rect class="plot" x="[\d.]+" y="([\d.]+)"', svg)[1])
    legend = re.findall(r'<g class="legend"><rect x="[\d.]+" y="([\d.]+)" width="10" height="10"', svg)
    curves = [float(y) for y in re.findall(r",([\d.]+)", " ".join(re.findall(r'points="([^"]+)"', svg)))]

    assert len(legend) == 2
    assert all(float(y) + 10 < plot_top for y in legend)  # every legend entry ends above the plot
    assert min(curves) >= plot_top
