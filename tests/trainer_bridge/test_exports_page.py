import os
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings
from django.test import Client

from config.celery import app as celery_app
from tests.workers import worker_database_url
from trainer_bridge.models import ExportJob


@pytest.fixture
def rita(labeled, add_member):
    client = Client()
    client.force_login(add_member(labeled, "rita", "reviewer"))
    return client


def test_the_page_lists_snapshots_and_starts_an_export(snapshot, labeled, rita, settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path
    page = rita.get(f"/projects/{labeled.pk}/exports/")
    assert page.status_code == 200
    assert snapshot.name in page.content.decode() and "Freeze a snapshot" in page.content.decode()

    response = rita.post(
        f"/snapshots/{snapshot.pk}/exports/",
        {"kind": "rm", "format": "jsonl", "split": "all", "mode": "kwise", "by": "consensus"},
    )
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert job.options == {
        "format": "jsonl",
        "split": "all",
        "mode": "kwise",
        "by": "consensus",
        "margin": False,
    }
    status = rita.get(f"/exports/{job.pk}/status.json").json()
    assert status["status"] == "queued" and status["download_url"] is None
    assert 'data-status="queued"' in rita.get(f"/projects/{labeled.pk}/exports/").content.decode()


def test_the_page_is_a_project_tab_that_says_its_choices_and_settings_in_words(snapshot, labeled, rita):
    rita.post(f"/snapshots/{snapshot.pk}/exports/", {"kind": "rm", "mode": "kwise", "by": "consensus"})
    rita.post(f"/snapshots/{snapshot.pk}/exports/", {"kind": "sft", "format": "parquet", "split": "train"})

    page = rita.get(f"/projects/{labeled.pk}/exports/").content.decode()

    assert '<nav class="tabs" aria-label="everything">' in page
    assert 'aria-current="page">Exports</a>' in page
    assert "Accepted work and work not reviewed yet</label>" in page and "unreviewedallowed" not in page
    assert "JSONL · all splits · kwise · by consensus" in page
    assert "PARQUET · train split · chat, demonstration, refusal, search" in page
    assert "[&#x27;" not in page and "=[" not in page and "margin=False" not in page
    assert "<script>" not in page  # its script is a static file, allowed by the Content-Security-Policy


def test_the_page_freezes_a_snapshot_and_reports_an_empty_one(labeled, rita):
    response = rita.post(
        f"/projects/{labeled.pk}/snapshots/",
        {"name": "web v1", "kinds": ["refusal"], "seed": "3"},
        follow=True,
    )
    assert "Snapshot web v1 frozen: 2 rows." in response.content.decode()
    response = rita.post(
        f"/projects/{labeled.pk}/snapshots/", {"name": "web v1", "kinds": ["refusal"]}, follow=True
    )
    assert "already has a snapshot named" in response.content.decode()


def test_labelers_cannot_open_the_exports_page(labeled, add_member):
    client = Client()
    client.force_login(add_member(labeled, "lea"))
    assert client.get(f"/projects/{labeled.pk}/exports/").status_code == 403


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_runs_the_export_and_the_page_sees_it_finish(
    snapshot, labeled, add_member, tmp_path, settings
):
    """The web process queues the job on Redis, a worker process writes the file, the status says done."""
    settings.EXPORT_ROOT = tmp_path / "exports"
    queue = f"coach-test-{os.getpid()}"
    env = dict(
        os.environ,
        DATABASE_URL=worker_database_url(),
        COACH_DATA_ROOT=str(tmp_path / "worker"),
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "-c",
            "1",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    before = celery_app.conf.task_default_queue
    celery_app.conf.update(task_default_queue=queue)
    try:
        client = Client()
        client.force_login(add_member(labeled, "rita", "reviewer"))
        client.post(
            f"/snapshots/{snapshot.pk}/exports/", {"kind": "sft", "format": "parquet", "split": "all"}
        )
        job = ExportJob.objects.get()
        deadline = time.monotonic() + 60
        while (status := client.get(f"/exports/{job.pk}/status.json").json())["status"] not in (
            "done",
            "failed",
        ):
            assert worker.poll() is None, worker.stderr.read()
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert status["status"] == "done", status
        assert (
            status["file_name"].endswith(".parquet")
            and str(tmp_path / "exports") in ExportJob.objects.get().file_path
        )
        download = client.get(status["download_url"])
        assert download.status_code == 200 and b"".join(download.streaming_content)[:4] == b"PAR1"
    finally:
        celery_app.conf.update(task_default_queue=before)
        worker.terminate()
        worker.wait(timeout=20)
