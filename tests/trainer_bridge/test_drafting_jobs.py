"""Drafting jobs: a model version's draft reply for each open writing task, written ahead by the job
system, stored once per prompt and version, resumed after a lost worker without duplicates."""

import time
from collections import Counter

import pytest
from django.db import transaction

from core.errors import Conflict, DomainError, NotAllowed
from labeling.models import Prompt, ReplyDraft
from labeling.services.imports import prompts_import
from labeling.services.model_drafts import reply_draft_settings_set
from tests.factories import import_prompts, jsonl, seed_demonstrations
from tests.workers import gpu_worker, wait_for
from trainer_bridge.jobs.lifecycle import job_run, jobs_resume_stale
from trainer_bridge.models import DraftingJob, JobStatus
from trainer_bridge.services.drafting import drafting_job_start, reply_drafts_schedule_all


@pytest.fixture
def writing_project(make_project):
    return make_project(name="writing", kinds=["demonstration", "refusal", "search", "ranking"])


def drafts_per_prompt(project) -> Counter:
    return Counter(ReplyDraft.objects.filter(prompt__project=project).values_list("prompt_id", flat=True))


def test_the_start_refuses_what_it_cannot_do_naming_the_field(writing_project, admin, add_member, base_model):
    seed_demonstrations(writing_project, 2)
    with pytest.raises(DomainError) as no_model:
        drafting_job_start(project=writing_project, user=admin)
    assert no_model.value.field == "model_version"

    reply_draft_settings_set(project=writing_project, user=admin, enabled=True, model_version=base_model)
    with pytest.raises(NotAllowed):
        drafting_job_start(project=writing_project, user=add_member(writing_project, "lea"))
    with pytest.raises(DomainError) as foreign:
        drafting_job_start(project=writing_project, user=admin, prompt_ids=[10**9])
    assert foreign.value.field == "prompt_ids"
    with pytest.raises(DomainError) as engine:
        drafting_job_start(project=writing_project, user=admin, engine="magic")
    assert engine.value.field == "engine"

    job = drafting_job_start(project=writing_project, user=admin)
    with pytest.raises(Conflict) as twice:
        drafting_job_start(project=writing_project, user=admin)
    assert twice.value.field == "model_version" and f"#{job.pk}" in twice.value.detail


def test_the_api_starts_a_drafting_job_and_answers_bad_input_naming_the_field(
    writing_project, admin, api, base_model
):
    seed_demonstrations(writing_project, 2)
    client = api(admin)
    url = f"/api/projects/{writing_project.pk}/drafting-jobs/"
    assert client.post(url, {}, format="json").json()["field"] == "model_version"
    reply_draft_settings_set(project=writing_project, user=admin, enabled=True, model_version=base_model)

    bad = client.post(url, {"batch_size": 0}, format="json")
    started = client.post(url, {}, format="json")

    assert bad.status_code == 400 and bad.json()["field"] == "batch_size"
    assert started.status_code == 202 and started.json()["prompts"] == 2
    assert client.get(url).json()[0]["id"] == started.json()["id"]


@pytest.mark.django_db
def test_a_drafting_job_drafts_each_waiting_writing_task_once(writing_project, admin, base_model, model_root):
    seed_demonstrations(writing_project, 3)
    import_prompts(writing_project, ["Who won the 1903 chess cup in Lima?"], "refusal")
    import_prompts(writing_project, ["Find the opening hours."], "search")  # its answer cites searches
    import_prompts(writing_project, ["Rank these."], "ranking")
    probed = Prompt.objects.create(
        project=writing_project,
        messages=[{"role": "user", "content": "Who discovered element 130?"}],
        content_hash="probe",
        metadata={"suggested_reply": "I don't know."},  # a probe's refusal keeps its own suggested reply
    )
    probed.tasks.create(project=writing_project, kind="refusal", required_count=1)
    reply_draft_settings_set(
        project=writing_project, user=admin, enabled=True, model_version=base_model, max_new_tokens=8
    )

    job = drafting_job_start(project=writing_project, user=admin, batch_size=2)
    job_run(job_id=job.pk)
    job.refresh_from_db()

    assert job.status == JobStatus.DONE, job.log
    drafted = set(drafts_per_prompt(writing_project))
    kinds = Counter(Prompt.objects.get(pk=pk).tasks.get().kind for pk in drafted)
    assert kinds == {"demonstration": 3, "refusal": 1} and probed.pk not in drafted
    assert (job.drafts_created, job.progress_done, job.progress_total) == (4, 4, 4)
    draft = ReplyDraft.objects.filter(prompt__project=writing_project).first()
    assert draft.model_version == base_model and draft.sampling_params["drafting_job"] == job.pk

    job_run(job_id=job.pk)  # a redelivered message: the job is done, nothing is added
    assert set(drafts_per_prompt(writing_project).values()) == {1}
    with pytest.raises(DomainError) as nothing_left:
        drafting_job_start(project=writing_project, user=admin)
    assert nothing_left.value.field == "prompts"


def test_the_beat_starts_drafting_only_where_drafts_are_on_and_tasks_wait(
    writing_project, make_project, admin, base_model
):
    other = make_project(name="other", kinds=["demonstration"])
    seed_demonstrations(writing_project, 2)
    seed_demonstrations(other, 2)
    reply_draft_settings_set(project=writing_project, user=admin, enabled=True, model_version=base_model)
    reply_draft_settings_set(project=other, user=admin, enabled=False, model_version=base_model)

    started = reply_drafts_schedule_all()
    again = reply_drafts_schedule_all()  # the first job is still on its way

    assert [DraftingJob.objects.get(pk=pk).project for pk in started] == [writing_project]
    assert again == [] and DraftingJob.objects.get().created_by is None


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_job_then_resuming_leaves_no_duplicate_and_no_gap(
    writing_project, admin, base_model, celery_worker, tmp_path
):
    seed_demonstrations(writing_project, 40)
    reply_draft_settings_set(
        project=writing_project, user=admin, enabled=True, model_version=base_model, max_new_tokens=32
    )
    worker = gpu_worker(celery_worker, tmp_path)
    job = drafting_job_start(project=writing_project, user=admin, batch_size=1)

    job = wait_for(job, lambda j: j.progress_done >= 2)
    worker.kill()  # SIGKILL: no chance to finish the batch
    job = DraftingJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.RUNNING and 2 <= job.progress_done < 40, job.log

    gpu_worker(celery_worker, tmp_path)
    assert jobs_resume_stale(stale_seconds=0) == [job.pk]
    job = wait_for(job, lambda j: j.status in (JobStatus.DONE, JobStatus.FAILED))

    assert job.status == JobStatus.DONE, job.log
    assert job.attempts == 2 and "already have a draft" in job.log
    per_prompt = drafts_per_prompt(writing_project)
    assert len(per_prompt) == 40 and set(per_prompt.values()) == {1}
    assert job.drafts_created == 40


@pytest.mark.django_db(transaction=True)
def test_an_import_asks_the_job_system_for_drafts_of_its_new_tasks(
    writing_project, admin, base_model, celery_worker, model_root
):
    reply_draft_settings_set(
        project=writing_project, user=admin, enabled=True, model_version=base_model, max_new_tokens=8
    )
    celery_worker()  # runs the import's request on this test's own queue

    with transaction.atomic():
        prompts_import(
            project=writing_project,
            fmt="jsonl",
            task_kind="demonstration",
            stream=jsonl([{"prompt": f"Describe colour {i}."} for i in range(3)]),
        )

    started = _drafting_job_of(writing_project)
    assert started is not None, "no drafting job was started for the import"
    assert started.created_by is None and len(started.prompt_ids) == 3
    # The worker queued the job for the machines with a GPU (the `gpu` queue, which no test worker reads);
    # here the test runs it in its own process.
    job_run(job_id=started.pk)
    assert len(drafts_per_prompt(writing_project)) == 3


def _drafting_job_of(project, timeout: float = 60.0) -> DraftingJob | None:
    deadline = time.monotonic() + timeout
    while (found := DraftingJob.objects.filter(project=project).first()) is None:
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
    return found


def test_an_admin_starts_drafting_from_the_quality_tab_and_follows_it_on_the_jobs_pages(
    writing_project, admin, base_model, client
):
    seed_demonstrations(writing_project, 2)
    client.force_login(admin)
    refused = client.post(f"/projects/{writing_project.pk}/quality/drafts/start/", follow=True)
    assert "Choose the model version that writes the drafts first." in refused.content.decode()
    reply_draft_settings_set(project=writing_project, user=admin, enabled=False, model_version=base_model)

    started = client.post(f"/projects/{writing_project.pk}/quality/drafts/start/")

    job = DraftingJob.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/jobs/drafting/{job.pk}/"
    assert job.created_by == admin and len(job.prompt_ids) == 2
    listed = client.get(f"/projects/{writing_project.pk}/jobs/").content.decode()
    assert "a draft reply for 2 prompts from tiny-base" in listed
    detail = client.get(f"/jobs/drafting/{job.pk}/").content.decode()
    assert "Drafts written" in detail and "Model drafts page" in detail
