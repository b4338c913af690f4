import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from core.errors import DomainError
from curation.probes import (
    SUGGESTED_REFUSAL,
    probe_set_upload,
)
from labeling.models import Demonstration, Task
from labeling.services.queue import claim_next_task
from registry.models import ModelVersion
from tests.factories import jsonl
from trainer_bridge.jobs.kinds import KINDS
from trainer_bridge.jobs.lifecycle import job_retry, job_run
from trainer_bridge.models import JobStatus, JobType, ProbeAnswer, ProbeOutcome
from trainer_bridge.services.probes import (
    probe_demonstration_tasks_create,
    probe_refusal_tasks_create,
    probe_run_grade,
    probe_run_start,
)
from trainer_bridge.tasks import gpu_run_job


@pytest.fixture
def unrun_model(db):
    """A registered model version for runs whose answers the test stores itself (nothing loads it)."""
    return ModelVersion.objects.create(name="m", kind="base", path="/nowhere")


def test_grading_stored_answers_gives_verdicts_and_tasks(make_project, admin, unrun_model):
    project = make_project(kinds=["refusal", "demonstration"], overlap=2)
    rows = [
        {"question": "Capital of France?", "reference": "Paris"},
        {"question": "Who wrote Dune?", "reference": "Frank Herbert"},
        {"question": "Boiling point of water in C?", "reference": "100"},
    ]
    probe_set = probe_set_upload(project=project, name="facts", stream=jsonl(rows), uploaded_by=admin)
    run = probe_run_start(probe_set=probe_set, model_version=unrun_model, samples=2, dispatch=False)
    paris, dune, water = probe_set.questions.order_by("line")
    answers = {
        paris: ["Paris.", "It is Paris"],
        dune: ["Isaac Asimov", "Tolkien"],
        water: ["100 degrees", "90"],
    }
    for question, texts in answers.items():
        for i, text in enumerate(texts):
            ProbeAnswer.objects.create(run=run, question=question, sample_index=i, text=text)

    assert probe_run_grade(run=run) == {"right": 1, "wrong": 1, "mixed": 1}
    assert probe_run_grade(run=run) == {"right": 1, "wrong": 1, "mixed": 1}  # grading again changes nothing
    assert ProbeOutcome.objects.get(run=run, question=water).correct == 1

    assert probe_refusal_tasks_create(run=run) == 1
    assert probe_refusal_tasks_create(run=run) == 0  # a question is turned into a task once
    refusal = Task.objects.get(project=project, kind="refusal")
    assert refusal.prompt.messages == [{"role": "user", "content": "Who wrote Dune?"}]
    assert refusal.required_count == 2
    assert refusal.prompt.metadata["suggested_reply"] == SUGGESTED_REFUSAL
    assert refusal.prompt.metadata["probe"]["sampled"] == ["Isaac Asimov", "Tolkien"]
    assert probe_demonstration_tasks_create(run=run) == 1
    assert (
        Task.objects.get(project=project, kind="demonstration").prompt.metadata["probe"]["reference"]
        == "Paris"
    )


def test_a_labeler_finds_the_suggested_refusal_filled_in_and_approves_it(
    make_project, add_member, admin, unrun_model
):
    project = make_project(kinds=["refusal"])
    rows = [{"question": "Who wrote Dune?", "reference": "Herbert"}]
    probe_set = probe_set_upload(project=project, name="facts", stream=jsonl(rows), uploaded_by=admin)
    run = probe_run_start(probe_set=probe_set, model_version=unrun_model, samples=1, dispatch=False)
    ProbeAnswer.objects.create(run=run, question=probe_set.questions.get(), sample_index=0, text="Tolkien")
    probe_run_grade(run=run)
    probe_refusal_tasks_create(run=run)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    client = Client()
    client.force_login(lea)

    html = client.get(f"/assignments/{assignment.pk}/").content.decode()

    api = APIClient()
    api.force_authenticate(lea)
    assert api.post(f"/api/projects/{project.pk}/next/").json()["suggested_reply"] == SUGGESTED_REFUSAL
    escaped = SUGGESTED_REFUSAL.replace("'", "&#x27;")
    assert f">{escaped}</textarea>" in html and "data-suggested" in html
    client.post(f"/assignments/{assignment.pk}/write/", {"content": SUGGESTED_REFUSAL, "seconds": "4"})
    reply = Demonstration.objects.get(assignment=assignment).messages[-1]
    assert reply == {"role": "assistant", "content": SUGGESTED_REFUSAL}


def test_refusal_tasks_need_the_refusal_kind(project, admin, unrun_model):
    probe_set = probe_set_upload(
        project=project, name="f", stream=jsonl([{"question": "q?", "reference": "r"}]), uploaded_by=admin
    )
    run = probe_run_start(probe_set=probe_set, model_version=unrun_model, samples=1, dispatch=False)
    with pytest.raises(DomainError):
        probe_refusal_tasks_create(run=run)


def test_probe_and_practice_tasks_go_to_the_gpu_queue(settings):
    from celery.app.routes import Router, prepare

    from config.celery import app

    # Built from the settings: other tests point the app's routes at private queues for a while.
    router = Router(prepare(settings.CELERY_TASK_ROUTES), app.amqp.queues, True, app=app)
    assert router.route({}, gpu_run_job.name)["queue"].name == "gpu"
    assert KINDS[JobType.PROBE].gpu and KINDS[JobType.PRACTICE].gpu


def test_a_probe_run_with_a_real_model_samples_grades_and_makes_refusal_tasks(
    make_project, admin, tiny_model_dir
):
    project = make_project(kinds=["refusal"])
    # References the random tiny model cannot produce: every answer is graded wrong.
    rows = [
        {"question": "What is the secret code?", "reference": "qzxv-7731-wplk"},
        {"question": "Name the hidden river.", "reference": "Xoltranimbus"},
    ]
    probe_set = probe_set_upload(project=project, name="unknowable", stream=jsonl(rows), uploaded_by=admin)
    tiny = ModelVersion.objects.create(name="tiny", kind="base", path=str(tiny_model_dir))
    run = probe_run_start(
        probe_set=probe_set, model_version=tiny, samples=3, max_new_tokens=8, dispatch=False
    )

    job_run(job_id=run.pk)

    run.refresh_from_db()
    assert run.status == JobStatus.DONE and run.progress_done == run.progress_total == 2
    assert ProbeAnswer.objects.filter(run=run).count() == 6
    assert set(ProbeAnswer.objects.filter(run=run).values_list("correct", flat=True)) == {False}
    assert {o.verdict for o in run.outcomes.all()} == {"wrong"}
    assert Task.objects.filter(project=project, kind="refusal").count() == 2
    texts = list(ProbeAnswer.objects.filter(run=run).order_by("pk").values_list("text", flat=True))

    job_run(job_id=run.pk)  # a finished run is left alone
    run.status = JobStatus.FAILED
    run.save()
    job_retry(job=run, user=None)
    job_run(job_id=run.pk)  # a retried run finds every answer stored and samples nothing new
    assert list(ProbeAnswer.objects.filter(run=run).order_by("pk").values_list("text", flat=True)) == texts
    assert Task.objects.filter(project=project, kind="refusal").count() == 2


def test_the_probe_command_runs_a_set_against_a_model_directory(
    make_project, admin, tiny_model_dir, tmp_path
):
    make_project(name="probes", kinds=["refusal"])
    source = tmp_path / "q.jsonl"
    source.write_text('{"question": "Secret word?", "reference": "qqqzzzxxx"}\n')
    out = StringIO()
    call_command("probe", "upload", "probes", "secrets", str(source), "--user", admin.username, stdout=out)
    set_id = json.loads(out.getvalue())["probe_set"]
    out = StringIO()
    call_command(
        "probe",
        "run",
        str(set_id),
        "--model-path",
        str(tiny_model_dir),
        "--samples",
        "2",
        "--max-new-tokens",
        "4",
        "--no-progress",
        stdout=out,
    )
    assert json.loads(out.getvalue()) | {"run": 0} == {
        "run": 0,
        "status": "done",
        "verdicts": {"wrong": 1},
        "tasks": 1,
    }
