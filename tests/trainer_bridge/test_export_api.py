import json

import pytest

from config.celery import app as celery_app
from trainer_bridge.jobs.lifecycle import job_run
from trainer_bridge.models import ExportJob


@pytest.fixture
def eager_celery(settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def reviewer(labeled, add_member, api):
    return api(add_member(labeled, "rita", "reviewer"))


def test_a_reviewer_exports_through_the_api_and_downloads_the_file(
    snapshot, reviewer, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer.post(
            f"/api/snapshots/{snapshot.pk}/exports/", {"kind": "rm", "margin": True}, format="json"
        )
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]

    body = reviewer.get(f"/api/exports/{job_id}/").json()
    assert body["status"] == "done" and body["progress"] == 1.0 and body["rows_written"] == 55
    assert body["rows_done"] == body["rows_total"] == 10
    download = reviewer.get(f"/api/exports/{job_id}/download/")
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert len(lines) == 55 and json.loads(lines[0])["margin"] >= 1.0


def test_the_same_export_twice_gives_back_the_same_job(
    snapshot, reviewer, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = reviewer.post(f"/api/snapshots/{snapshot.pk}/exports/", {"kind": "sft"}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        again = reviewer.post(
            f"/api/snapshots/{snapshot.pk}/exports/", {"kind": "sft", "format": "jsonl"}, format="json"
        )
    assert again.json()["id"] == first["id"] and again.json()["created"] is False
    assert ExportJob.objects.count() == 1


def test_running_a_job_twice_is_harmless(snapshot, admin, settings, tmp_path):
    from trainer_bridge.services.exports import export_job_start

    settings.EXPORT_ROOT = tmp_path
    job, _ = export_job_start(snapshot=snapshot, kind="prompts", options={}, user=admin)
    job_run(job_id=job.pk)
    first = ExportJob.objects.get(pk=job.pk)
    content = open(first.file_path, "rb").read()
    job_run(job_id=job.pk)
    second = ExportJob.objects.get(pk=job.pk)
    assert second.status == "done" and second.finished_at == first.finished_at
    assert open(second.file_path, "rb").read() == content


def test_a_job_that_cannot_export_fails_with_the_reason(labeled, admin, settings, tmp_path):
    from curation.snapshots import snapshot_freeze
    from trainer_bridge.services.exports import export_job_start

    settings.EXPORT_ROOT = tmp_path
    all_train = snapshot_freeze(project=labeled, name="all train", validation_fraction=0)
    job, _ = export_job_start(snapshot=all_train, kind="sft", options={"split": "validation"}, user=admin)
    job_run(job_id=job.pk)
    job = ExportJob.objects.get(pk=job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None
    assert "no chat or demonstration or refusal or search rows in the validation split" in job.error
    assert list(tmp_path.iterdir()) == []


def test_labelers_and_strangers_cannot_export(snapshot, labeled, add_member, api, make_user):
    labeler = api(add_member(labeled, "lea"))
    assert (
        labeler.post(f"/api/snapshots/{snapshot.pk}/exports/", {"kind": "sft"}, format="json").status_code
        == 403
    )
    stranger = api(make_user("sam"))
    assert stranger.get(f"/api/snapshots/{snapshot.pk}/").status_code == 404
    assert stranger.get(f"/api/projects/{labeled.pk}/snapshots/").status_code == 404


def test_a_missing_snapshot_is_a_404_with_a_reason(reviewer):
    response = reviewer.post("/api/snapshots/424242/exports/", {"kind": "sft"}, format="json")
    assert response.status_code == 404 and response.json()["error"] == "snapshot_not_found"


def test_a_reviewer_freezes_a_snapshot_through_the_api(labeled, reviewer):
    response = reviewer.post(
        f"/api/projects/{labeled.pk}/snapshots/",
        {"name": "api v1", "kinds": ["ranking"], "labelers": ["otto"], "validation_fraction": 0.2},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["row_count"] == 5 and body["manifest"]["filters"]["labelers"] == ["otto"]
    listed = reviewer.get(f"/api/projects/{labeled.pk}/snapshots/").json()
    assert [s["name"] for s in listed] == ["api v1"]
    empty = reviewer.post(
        f"/api/projects/{labeled.pk}/snapshots/", {"name": "none", "labelers": ["x"]}, format="json"
    )
    assert empty.status_code == 400 and empty.json()["error"] == "snapshot_empty"


def test_downloading_an_unfinished_export_is_a_conflict(snapshot, reviewer, settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path
    job_id = reviewer.post(f"/api/snapshots/{snapshot.pk}/exports/", {"kind": "sft"}, format="json").json()[
        "id"
    ]
    assert reviewer.get(f"/api/exports/{job_id}/").json()["status"] == "queued"
    assert reviewer.get(f"/api/exports/{job_id}/download/").status_code == 409
