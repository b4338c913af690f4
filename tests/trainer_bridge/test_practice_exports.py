"""Exporting a practice set: an export job like any other (API, the set's page, a real worker, resume)."""

import io
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from curation.practice import practice_set_upload
from tests.factories import jsonl
from tests.trainer_bridge.conftest import PRACTICE
from trainer_bridge.exports import run_practice_export
from trainer_bridge.jobs.lifecycle import job_run, jobs_resume_stale
from trainer_bridge.models import ExportJob, JobStatus
from trainer_bridge.services.exports import practice_export_job_start


@pytest.fixture
def exports_root(settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"
    return settings.EXPORT_ROOT


@pytest.fixture
def eager_celery(exports_root):
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def reviewer(project, add_member):
    return add_member(project, "rita", "reviewer")


def test_a_reviewer_exports_a_practice_set_for_verl_through_the_api_and_downloads_it(
    practice_set, practice_run, reviewer, api, eager_celery, django_capture_on_commit_callbacks
):
    client = api(reviewer)
    body = {"kind": "problems", "layout": "verl", "split": "validation", "run": practice_run.pk}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/practice-sets/{practice_set.pk}/exports/", body, format="json")
    assert response.status_code == 202, response.json()
    started = response.json()
    assert (started["practice_set"], started["practice_run"], started["snapshot"]) == (
        practice_set.pk,
        practice_run.pk,
        None,
    )
    assert started["source"] == "practice set mixed" and started["created"] is True

    status = client.get(f"/api/exports/{started['id']}/").json()
    assert status["status"] == "done" and status["rows_written"] == 3, status
    assert status["options"] == {"format": "parquet", "split": "validation", "layout": "verl"}
    download = client.get(f"/api/exports/{started['id']}/download/")
    assert download.status_code == 200
    assert status["file_name"].startswith(f"mixed-problems-run{practice_run.pk}-verl-validation-")
    rows = pq.read_table(io.BytesIO(b"".join(download.streaming_content))).to_pylist()
    assert [r["extra_info"]["split"] for r in rows] == ["validation"] * 3
    assert [r["extra_info"]["pass_rate"] for r in rows] == [0.5] * 3

    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(f"/api/practice-sets/{practice_set.pk}/exports/", body, format="json").json()
    assert again["id"] == started["id"] and again["created"] is False
    assert ExportJob.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"kind": "sft"}, 400, "run"),
        ({"kind": "rm", "layout": "verl", "run": "RUN"}, 400, "layout"),
        ({"kind": "problems", "layout": "verl", "format": "jsonl"}, 400, "format"),
        ({"kind": "nonsense"}, 400, "kind"),
        ({"kind": "sft", "run": "OTHER"}, 404, "run"),
    ],
)
def test_a_practice_export_that_cannot_be_made_is_refused_by_name(
    practice_set, practice_run, project, admin, reviewer, api, exports_root, body, status, field
):
    other = practice_set_upload(
        project=project, name="other", stream=jsonl([{"problem": "1+1?", "answer": "2"}]), uploaded_by=admin
    )
    other_run = practice_run.__class__.objects.create(
        type="practice", project=project, practice_set=other, model_name="x", samples=1, status="done"
    )
    body = {k: {"RUN": practice_run.pk, "OTHER": other_run.pk}.get(v, v) for k, v in body.items()}
    response = api(reviewer).post(f"/api/practice-sets/{practice_set.pk}/exports/", body, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["field"] == field
    assert not ExportJob.objects.exists()


def test_labelers_and_strangers_cannot_export_a_practice_set(
    practice_set, project, add_member, make_user, api
):
    url = f"/api/practice-sets/{practice_set.pk}/exports/"
    assert api(add_member(project, "lea")).post(url, {"kind": "problems"}, format="json").status_code == 403
    assert api(make_user("sam")).post(url, {"kind": "problems"}, format="json").status_code == 404
    client = Client()
    client.force_login(make_user("sam2"))
    page_url = reverse("jobs:practice-export", args=[project.pk, practice_set.pk])
    assert client.post(page_url, {"kind": "problems"}).status_code == 404
    assert not ExportJob.objects.exists()


def test_the_practice_set_page_shows_the_split_and_exports_from_a_form(
    practice_set, practice_run, project, reviewer, exports_root
):
    client = Client()
    client.force_login(reviewer)
    url = reverse("jobs:practice-set", args=[project.pk, practice_set.pk])
    page = client.get(url).content.decode()
    assert "5 training problems, 3 held out for validation" in page
    assert "seed 3, validation fraction 0.5" in page
    assert page.count("<td data-split>validation</td>") == 3 and page.count("<td data-split>train</td>") == 5

    shown = client.get(f"{url}?run={practice_run.pk}").content.decode()
    assert f"Run #{practice_run.pk} pass rate: training 0.500" in shown and "held out 0.500" in shown

    form = {"kind": "rm", "layout": "openrlhf", "format": "", "split": "train", "run": practice_run.pk}
    response = client.post(reverse("jobs:practice-export", args=[project.pk, practice_set.pk]), form)
    assert response.status_code == 302 and response["Location"] == url
    job = ExportJob.objects.get()
    assert (job.practice_set_id, job.practice_run_id, job.kind) == (practice_set.pk, practice_run.pk, "rm")
    assert job.options == {"format": "jsonl", "split": "train", "layout": "openrlhf"}
    job_run(job_id=job.pk)

    page = client.get(url).content.decode()
    job.refresh_from_db()
    assert f"rm of run #{practice_run.pk}" in page and Path(job.file_path).name in page
    assert "5 records" in page

    refused = client.post(
        reverse("jobs:practice-export", args=[project.pk, practice_set.pk]),
        {"kind": "sft", "layout": "trl", "split": "all", "run": ""},
        follow=True,
    )
    assert "made from a practice run" in refused.content.decode()
    assert ExportJob.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_practice_export_whose_worker_died_is_written_again_whole_by_a_real_worker(
    practice_set, practice_run, admin, celery_worker, exports_root, tmp_path
):
    worker = celery_worker()
    job, _ = practice_export_job_start(
        practice_set=practice_set, kind="problems", options={"layout": "verl"}, user=admin
    )
    job = _wait(job, lambda j: j.status == JobStatus.DONE)
    path = Path(job.file_path)
    finished = path.read_bytes()
    worker.kill()

    # What a worker killed mid-write leaves: the job running with a stale heartbeat, a half temporary file.
    path.unlink()
    leftover = path.with_name(f"{path.name}.4242-dead.tmp")
    leftover.write_bytes(finished[: len(finished) // 2])
    ExportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, runner="dead", heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    celery_worker()
    assert jobs_resume_stale(stale_seconds=0) == [job.pk]
    job = _wait(job, lambda j: j.status in (JobStatus.DONE, JobStatus.FAILED))

    assert job.status == JobStatus.DONE, job.error
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # the half file is gone
    assert path.read_bytes() == finished
    inline = run_practice_export(
        practice_set=practice_set,
        run=None,
        kind="problems",
        path=tmp_path / "here.parquet",
        options=job.options,
    )
    assert inline.sha256 == job.file_sha256  # the same inputs, the same bytes, wherever it runs
    assert pq.read_table(path).num_rows == len(PRACTICE)


def _wait(job, done, timeout=60.0):
    import time

    deadline = time.monotonic() + timeout
    while True:
        fresh = ExportJob.objects.get(pk=job.pk)
        if done(fresh) or time.monotonic() > deadline:
            return fresh
        time.sleep(0.05)


@pytest.mark.parametrize("layout", ["trl", "verl", "openrlhf"])
def test_a_set_whose_problems_have_no_verifier_options_exports_to_parquet(project, admin, tmp_path, layout):
    """Exact-answer problems have no options: nothing in a row may be an empty dict, which Parquet refuses."""
    rows = [
        {"problem": "Capital of Peru?", "answer": "Lima"},
        {"problem": "Capital of Chile?", "answer": "Santiago"},
    ]
    exact = practice_set_upload(project=project, name="capitals", stream=jsonl(rows), uploaded_by=admin)
    result = run_practice_export(
        practice_set=exact,
        run=None,
        kind="problems",
        path=tmp_path / "capitals.parquet",
        options={"layout": layout, "format": "parquet"},
    )
    table = pq.read_table(result.path)
    assert table.num_rows == 2
    assert "Lima" in str(table.to_pylist()[0])
