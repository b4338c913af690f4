"""Faults on the real stack: the broker down, Postgres restarted under load, a worker killed mid-export."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from accounts.selectors import api_token_for_key
from accounts.services import api_token_issue
from bench._stack import free_port, gunicorn
from bench.faults import RedisServer
from bench.load import seed as seed_archive
from curation.models import DatasetSnapshot
from curation.snapshots import snapshot_freeze
from labeling.models import Ranking
from registry.models import ModelVersion
from tests.factories import rank_all, review_all, seed_rankings
from tests.workers import worker_database_url
from trainer_bridge.jobs.lifecycle import jobs_resume_stale
from trainer_bridge.models import ExportJob, GenerationJob
from trainer_bridge.services.exports import export_job_start

ROOT = Path(__file__).resolve().parent.parent.parent
ARCHIVE = 5_000  # accepted K=9 rankings: an export of 720,000 pairs, long enough to kill midway


@pytest.mark.external
@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_labeling_goes_on_and_starting_a_job_says_the_queue_is_unreachable(
    make_project, add_member, admin, tmp_path
):
    project = make_project(kinds=["ranking"], overlap=2)
    seed_rankings(project, 6)
    lea = add_member(project, "lea")
    review_all(rank_all(project, add_member(project, "otto"), lambda task: [task.candidate_ids]), admin)
    snapshot = snapshot_freeze(project=project, name="v1", created_by=admin, validation_fraction=0)
    model = ModelVersion.objects.create(name="base", kind="base", path=str(tmp_path / "base"))
    prompt = project.prompts.order_by("pk").first().pk
    as_admin = {"Authorization": f"Token {api_token_issue(user=admin, name='faults')[1]}"}
    as_lea = {"Authorization": f"Token {api_token_issue(user=lea, name='faults')[1]}"}
    broker = RedisServer(free_port(), tmp_path / "redis")
    broker.start()
    env = dict(
        os.environ,
        DATABASE_URL=worker_database_url(),
        CELERY_BROKER_URL=broker.url,
        COACH_DATA_ROOT=str(tmp_path / "data"),
    )
    try:
        with gunicorn(env, workers=1) as base:
            exports = f"{base}/api/snapshots/{snapshot.pk}/exports/"
            assert (
                requests.post(exports, json={"kind": "rm"}, headers=as_admin, timeout=30).status_code == 202
            )
            broker.stop()

            for _ in range(3):
                claimed = requests.post(f"{base}/api/projects/{project.pk}/next/", headers=as_lea, timeout=30)
                assert claimed.status_code == 200
                assignment = claimed.json()
                tiers = [[c["id"]] for c in assignment["candidates"]]
                submitted = requests.post(
                    f"{base}/api/assignments/{assignment['id']}/submit/",
                    json={"tiers": tiers},
                    headers=as_lea,
                    timeout=30,
                )
                assert submitted.status_code == 201

            export = requests.post(
                exports, json={"kind": "rm", "mode": "kwise"}, headers=as_admin, timeout=30
            )
            generation = requests.post(
                f"{base}/api/projects/{project.pk}/generation-jobs/",
                json={"model_version": model.pk, "prompt_ids": [prompt]},
                headers=as_admin,
                timeout=30,
            )
            for answer in (export, generation):
                assert answer.status_code == 503
                assert answer.json()["error"] == "queue_unavailable"
                assert "the job queue is unreachable" in answer.json()["detail"]
            failed = ExportJob.objects.get(options__mode="kwise")
            assert failed.status == "failed" and "unreachable" in failed.error
            assert GenerationJob.objects.get().status == "failed"

            broker.start()
            again = requests.post(exports, json={"kind": "rm", "mode": "kwise"}, headers=as_admin, timeout=30)
            assert again.status_code == 202 and again.json()["created"]
    finally:
        broker.stop()
    assert Ranking.objects.filter(author=lea).count() == 3


@pytest.mark.external
def test_postgres_restarted_under_load_answers_503_while_down_and_keeps_every_acknowledged_submit():
    scenario = subprocess.run(
        [sys.executable, "bench/faults.py", "postgres-restart", "--labelers", "3", "--down", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(scenario.stdout.strip().splitlines()[-1])
    assert set(result["statuses_while_down"]) == {"503"}, result
    assert result["unexpected_statuses"] == {}, result
    assert result["submits_after_restart"] > 0, result
    assert all(status.startswith("2") for status in result["statuses_after_restart"]), result
    assert result["lost_submissions"] == 0 and result["double_assignments"] == 0, result
    assert result["passed"] and scenario.returncode == 0


@pytest.mark.django_db(transaction=True)
def test_an_export_whose_worker_is_killed_midway_finishes_after_a_restart_with_no_half_file(
    celery_worker, settings, tmp_path
):
    settings.EXPORT_ROOT = tmp_path / "exports"
    seeded = seed_archive(tasks=0, labelers=1, archive=ARCHIVE)
    snapshot_id, admin = seeded.snapshot, api_token_for_key(key=seeded.admin_token).user
    worker = celery_worker()
    job, created = export_job_start(
        snapshot=DatasetSnapshot.objects.get(pk=snapshot_id), kind="rm", options=None, user=admin
    )
    assert created
    job = wait_for(job, lambda j: j.status == "running" and j.progress_done > 0)
    worker.kill()  # SIGKILL, midway: the temporary file is half written
    job.refresh_from_db()
    path = Path(job.file_path)
    assert job.status == "running" and 0 < job.progress_done < ARCHIVE
    assert not path.exists()

    celery_worker()
    assert jobs_resume_stale(stale_seconds=0) == [job.pk]
    job = wait_for(job, lambda j: j.status in ("done", "failed"))

    assert job.status == "done", job.error
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left beside it
    lines = path.read_bytes().splitlines()
    assert len(lines) == job.rows_written == ARCHIVE * 36  # K=9: 36 pairs per ranking, each once
    assert len(set(lines)) == len(lines)


def wait_for(job: ExportJob, done: Callable[[ExportJob], bool], *, timeout: float = 120.0) -> ExportJob:
    """Poll the job's row until `done(job)`; the timeout only keeps a broken run from hanging the suite."""
    deadline = time.monotonic() + timeout
    while True:
        fresh = ExportJob.objects.get(pk=job.pk)
        if done(fresh) or time.monotonic() > deadline:
            return fresh
        time.sleep(0.02)
