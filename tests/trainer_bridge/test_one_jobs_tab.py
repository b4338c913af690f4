"""Every kind of job shows on the one Jobs tab and in the one jobs API, and a failed one can be retried."""

import pytest
from django.test import Client

from curation.practice import practice_set_upload
from curation.probes import probe_set_upload
from registry.models import ModelVersion
from tests.factories import jsonl
from trainer_bridge.jobs.lifecycle import job_log
from trainer_bridge.models import Job, JobStatus
from trainer_bridge.services.exports import export_job_start
from trainer_bridge.services.practice import practice_run_start
from trainer_bridge.services.probes import probe_run_start


@pytest.fixture
def every_kind(snapshot, admin):
    project = snapshot.project
    unrun = ModelVersion.objects.create(name="m", kind="base", path="/nowhere")  # nothing loads it here
    facts = probe_set_upload(
        project=project, name="facts", stream=jsonl([{"question": "q?", "reference": "r"}]), uploaded_by=admin
    )
    sums = practice_set_upload(
        project=project, name="sums", stream=jsonl([{"problem": "1+1?", "answer": "2"}]), uploaded_by=admin
    )
    export, _ = export_job_start(snapshot=snapshot, kind="sft", options={}, user=admin)
    probe = probe_run_start(probe_set=facts, model_version=unrun, samples=2, dispatch=False, user=admin)
    practice = practice_run_start(
        practice_set=sums, model_version=unrun, samples=2, dispatch=False, user=admin
    )
    Job.objects.filter(pk=probe.pk).update(status=JobStatus.FAILED, error="the worker ran out of memory")
    return project, export, probe, practice


def test_the_jobs_tab_lists_exports_probes_and_practice_runs_with_what_each_does(every_kind, admin):
    project, export, probe, practice = every_kind
    client = Client()
    client.force_login(admin)

    page = client.get(f"/projects/{project.pk}/jobs/").content.decode()

    assert f"export #{export.pk}</a>" in page and "sft export of snapshot everything v1" in page
    assert f"refusal probe #{probe.pk}</a>" in page and "2 answers per question of" in page
    assert f"practice sampling #{practice.pk}</a>" in page and "2 solutions per problem of" in page
    for job in (export, probe, practice):
        assert client.get(f"/jobs/{job.type}/{job.pk}/").status_code == 200
    assert client.get(f"/jobs/generation/{export.pk}/").status_code == 404  # the kind in the URL must match


def test_a_failed_job_is_retried_from_its_page_and_resumes_from_what_it_saved(every_kind, admin, add_member):
    project, _, probe, _ = every_kind
    client = Client()
    client.force_login(admin)
    detail = client.get(f"/jobs/probe/{probe.pk}/").content.decode()
    assert "the worker ran out of memory" in detail and f'action="/jobs/probe/{probe.pk}/retry/"' in detail

    reviewer = Client()
    reviewer.force_login(add_member(project, "rita", "reviewer"))
    assert reviewer.post(f"/jobs/probe/{probe.pk}/retry/").status_code == 403
    assert client.post(f"/jobs/probe/{probe.pk}/retry/").status_code == 302

    probe.refresh_from_db()
    assert (probe.status, probe.error) == (JobStatus.QUEUED, "")
    assert "retried by ada; resuming from what was saved" in probe.log
    again = client.post(f"/jobs/probe/{probe.pk}/retry/", follow=True).content.decode()
    assert "only a failed or cancelled job can be retried" in again  # a queued job is not retried twice


def test_the_jobs_api_lists_every_kind_and_retries_a_failed_one(every_kind, admin, api):
    project, export, probe, practice = every_kind
    client = api(admin)

    listed = client.get(f"/api/projects/{project.pk}/jobs/").json()
    assert {(j["type"], j["id"]) for j in listed} == {
        ("export", export.pk),
        ("probe", probe.pk),
        ("practice", practice.pk),
    }
    assert [j["type"] for j in client.get(f"/api/projects/{project.pk}/jobs/?type=probe").json()] == ["probe"]
    assert client.get(f"/api/projects/{project.pk}/jobs/?type=nonsense").json()["field"] == "type"

    job_log(probe, "sampled 1 of 1 questions")
    body = client.get(f"/api/jobs/{probe.pk}/").json()
    assert (
        body["status"] == "failed"
        and body["judge"] == "containment"
        and body["log"][-1].endswith("sampled 1 of 1 questions")
    )
    retried = client.post(f"/api/jobs/{probe.pk}/retry/")
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    assert client.post(f"/api/jobs/{probe.pk}/retry/").status_code == 409
