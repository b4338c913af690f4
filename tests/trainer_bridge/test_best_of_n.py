"""Best-of-N: a model answers each prompt N times, a reward model scores the answers, the best of each
prompt becomes an SFT row of a frozen snapshot, and a model trained on it walks back to the prompts and
both models."""

from io import StringIO

import orjson
import pytest
from django.core.management import call_command
from django.test import Client

from core.errors import DomainError
from curation.models import SnapshotRow
from curation.selectors import snapshot_content_sha256
from labeling.models import Prompt
from registry.services import model_register
from tests.factories import import_prompts
from trainer_bridge.jobs.lifecycle import job_run
from trainer_bridge.models import BestOfNJob, BestOfNSample, JobStatus
from trainer_bridge.services.best_of_n import best_of_n_start
from trainer_bridge.services.training import training_job_start


@pytest.fixture
def writers(make_project, tiny_model_dir, tiny_reward_model_dir):
    project = make_project(name="rejection sampling", kinds=["demonstration"])
    import_prompts(project, [f"Tell me about item {i}." for i in range(3)], "demonstration")
    writer = model_register(path=tiny_model_dir, name="tiny-writer")
    judge = model_register(path=tiny_reward_model_dir, name="tiny-judge", kind="rm", parent=writer)
    return project, writer, judge


def test_best_of_n_keeps_the_highest_scored_answer_of_every_prompt_in_a_frozen_snapshot(
    writers, admin, model_root
):
    from trainer_bridge.ml.reward import score

    project, writer, judge = writers
    job = best_of_n_start(
        project=project,
        model_version=writer,
        reward_model=judge,
        user=admin,
        n=3,
        max_new_tokens=8,
        engine="transformers",
        snapshot_name="best of 3",
        validation_fraction=0.0,
    )
    job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.log
    assert BestOfNSample.objects.filter(job=job).count() == 3 * 3
    snapshot = job.snapshot
    assert snapshot is not None and snapshot.name == "best of 3" and snapshot.row_count == 3
    assert snapshot.sha256 == snapshot_content_sha256(snapshot=snapshot)
    source = snapshot.manifest["source"]["best_of_n"]
    assert source["n"] == 3
    assert (source["model_version"]["id"], source["reward_model"]["id"]) == (writer.pk, judge.pk)

    rows = [orjson.loads(r.data) for r in SnapshotRow.objects.filter(snapshot=snapshot).order_by("position")]
    assert [r["prompt_id"] for r in rows] == sorted(job.prompt_ids)
    for row in rows:
        prompt = Prompt.objects.get(pk=row["prompt_id"])
        answers = list(
            BestOfNSample.objects.filter(job=job, prompt=prompt)
            .order_by("sample_index")
            .values_list("text", flat=True)
        )
        # scored here, apart from the job: the kept answer is the one the reward model scores highest
        scores = score(judge.path, prompt.messages, answers)
        best = max(range(len(answers)), key=lambda i: (scores[i], -i))
        assert row["kind"] == "demonstration"
        assert row["messages"] == [*prompt.messages, {"role": "assistant", "content": answers[best]}]
        assert row["best_of_n"]["sample_index"] == best
        assert row["best_of_n"]["scores"] == pytest.approx(scores, abs=1e-4)
        assert row["labeler"] == writer.candidate_model_name

    # a model trained on the snapshot walks back to the prompts and to both models
    sft = training_job_start(
        snapshot=snapshot, base_model=writer, kind="sft", user=admin, config={"max_steps": 1}
    )
    job_run(job_id=sft.pk)
    sft.refresh_from_db()
    assert sft.status == JobStatus.DONE, sft.log
    origin = sft.output_model.origin.snapshot.best_of_n_job
    assert (origin.model_version, origin.reward_model) == (writer, judge)
    assert set(origin.prompt_ids) == set(Prompt.objects.filter(project=project).values_list("pk", flat=True))
    client = Client()
    client.force_login(admin)
    page = client.get(f"/projects/{project.pk}/models/{sft.output_model.pk}/").content.decode()
    assert "the best of 3 answers to 3 prompts from" in page and "tiny-judge" in page


def test_best_of_n_refusals_name_the_field(writers, admin, make_project):
    project, writer, judge = writers
    cases = [
        ({"model_version": judge, "reward_model": judge}, "model_version"),
        ({"model_version": writer, "reward_model": writer}, "reward_model"),
        ({"model_version": writer, "reward_model": judge, "n": 0}, "n"),
        # every prompt has its task already: none is waiting
        ({"model_version": writer, "reward_model": judge, "which": "waiting"}, "which"),
    ]
    for kwargs, field in cases:
        with pytest.raises(DomainError) as refused:
            best_of_n_start(project=project, user=admin, **kwargs)
        assert refused.value.field == field
    once = {"project": project, "model_version": writer, "reward_model": judge, "snapshot_name": "once"}
    best_of_n_start(user=admin, **once)
    with pytest.raises(DomainError) as refused:
        best_of_n_start(user=admin, **once)
    assert refused.value.field == "snapshot_name"
    assert BestOfNJob.objects.count() == 1


def test_best_of_n_starts_from_the_api_the_form_and_the_command(writers, admin, api, model_root):
    project, writer, judge = writers
    url = f"/api/projects/{project.pk}/best-of-n-jobs/"
    models = {"model_version": writer.pk, "reward_model": judge.pk}
    response = api(admin).post(url, models | {"n": 0}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "n"
    response = api(admin).post(
        url, {"model_version": writer.pk, "reward_model": writer.pk, "n": 2}, format="json"
    )
    assert response.status_code == 400 and response.json()["field"] == "reward_model"
    response = api(admin).post(url, models | {"n": 2}, format="json")
    assert response.status_code == 202
    assert api(admin).get(url).json()[0]["id"] == response.json()["id"]

    client = Client()
    client.force_login(admin)
    page = client.get(f"/projects/{project.pk}/jobs/").content.decode()
    assert "Best of N" in page and "tiny-judge" in page
    form = {"model_version": writer.pk, "reward_model": judge.pk, "n": "3", "snapshot_name": "from the form"}
    response = client.post(f"/projects/{project.pk}/jobs/best-of-n/", form)
    assert response.status_code == 302
    assert BestOfNJob.objects.get(snapshot_name="from the form").n == 3

    call_command(
        "best_of_n", "--project", str(project.pk), "--model", "tiny-writer", "--reward-model", "tiny-judge",
        "--n", "5", "--snapshot-name", "from the command", stdout=StringIO(),
    )  # fmt: skip
    assert BestOfNJob.objects.get(snapshot_name="from the command").n == 5
