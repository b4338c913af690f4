from collections import Counter

import pytest

from core.errors import Conflict
from labeling.models import Candidate, Task
from tests.factories import import_waiting_prompts
from tests.workers import gpu_worker, wait_for
from trainer_bridge.jobs.lifecycle import job_cancel, job_run, jobs_resume_stale
from trainer_bridge.models import JobStatus
from trainer_bridge.services.generation import generation_job_start


@pytest.fixture
def ranking_project(make_project):
    return make_project(name="sums", kinds=["ranking"], k=3)


def samples_per_prompt(prompt_ids: list[int]) -> dict[int, list[int]]:
    indices: dict[int, list[int]] = {pid: [] for pid in prompt_ids}
    for prompt_id, index in Candidate.objects.filter(prompt_id__in=prompt_ids).values_list(
        "prompt_id", "sample_index"
    ):
        indices[prompt_id].append(index)
    return {pid: sorted(found) for pid, found in indices.items()}


def test_a_generation_job_gives_k_candidates_per_prompt_and_their_ranking_tasks(
    ranking_project, base_model, admin, model_root
):
    prompt_ids = import_waiting_prompts(ranking_project, 5)
    job = generation_job_start(
        project=ranking_project, model_version=base_model, user=admin, max_new_tokens=6, batch_size=2
    )
    assert job.k == 3 and job.prompt_ids == prompt_ids and job.status == JobStatus.QUEUED

    job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.log
    assert (job.progress_done, job.progress_total, job.progress) == (5, 5, 1.0)
    assert (job.candidates_created, job.ranking_tasks_created) == (15, 5)
    assert samples_per_prompt(prompt_ids) == {pid: [0, 1, 2] for pid in prompt_ids}
    for task in Task.objects.filter(project=ranking_project, kind="ranking"):
        assert sorted(task.candidate_ids) == sorted(task.prompt.candidates.values_list("pk", flat=True))
    assert Candidate.objects.filter(model_name=base_model.candidate_model_name).count() == 15


def test_running_a_finished_generation_job_again_adds_nothing(ranking_project, base_model, admin, model_root):
    prompt_ids = import_waiting_prompts(ranking_project, 2)
    job = generation_job_start(
        project=ranking_project, model_version=base_model, user=admin, max_new_tokens=4
    )
    job_run(job_id=job.pk)
    texts = sorted(Candidate.objects.values_list("text", flat=True))

    job_run(job_id=job.pk)  # a redelivered message

    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.attempts == 1
    assert sorted(Candidate.objects.values_list("text", flat=True)) == texts
    assert Task.objects.filter(prompt_id__in=prompt_ids).count() == 2


def test_a_queued_job_cancels_at_once_and_never_runs(ranking_project, base_model, admin, model_root):
    import_waiting_prompts(ranking_project, 2)
    job = generation_job_start(
        project=ranking_project, model_version=base_model, user=admin, max_new_tokens=4
    )

    job_cancel(job=job, user=admin)
    job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.attempts == 0
    assert not Candidate.objects.exists()
    with pytest.raises(Conflict):
        job_cancel(job=job, user=admin)


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_job_then_resuming_leaves_no_duplicate_and_no_gap(
    ranking_project, base_model, admin, celery_worker, tmp_path
):
    prompt_ids = import_waiting_prompts(ranking_project, 40)
    worker = gpu_worker(celery_worker, tmp_path)
    job = generation_job_start(
        project=ranking_project, model_version=base_model, user=admin, max_new_tokens=32, batch_size=1
    )

    job = wait_for(job, lambda j: j.progress_done >= 2)
    worker.kill()  # SIGKILL: no chance to finish the batch or to say goodbye
    job = type(job).objects.get(pk=job.pk)
    assert job.status == JobStatus.RUNNING and 2 <= job.progress_done < 40, job.log
    stored = samples_per_prompt(prompt_ids)
    assert all(found in ([], [0, 1, 2]) for found in stored.values())  # a batch is stored whole or not at all

    gpu_worker(celery_worker, tmp_path)
    # What beat runs every 30 s, here with no grace period; called in this process because only it
    # routes gpu tasks to this test run's own queue.
    assert jobs_resume_stale(stale_seconds=0) == [job.pk]
    job = wait_for(job, lambda j: j.status in (JobStatus.DONE, JobStatus.FAILED))

    assert job.status == JobStatus.DONE, job.log
    assert job.attempts == 2 and "queued again to resume" in job.log
    assert samples_per_prompt(prompt_ids) == {pid: [0, 1, 2] for pid in prompt_ids}
    assert (job.candidates_created, job.ranking_tasks_created) == (120, 40)
    assert Counter(Task.objects.filter(project=ranking_project).values_list("prompt_id", flat=True)) == {
        pid: 1 for pid in prompt_ids
    }


@pytest.mark.django_db(transaction=True)
def test_a_running_job_stops_when_cancelled_and_keeps_what_it_stored(
    ranking_project, base_model, admin, celery_worker, tmp_path
):
    prompt_ids = import_waiting_prompts(ranking_project, 60)
    gpu_worker(celery_worker, tmp_path)
    job = generation_job_start(
        project=ranking_project, model_version=base_model, user=admin, max_new_tokens=32, batch_size=1
    )
    job = wait_for(job, lambda j: j.progress_done >= 1)

    job_cancel(job=job, user=admin)
    job = wait_for(job, lambda j: j.status not in (JobStatus.QUEUED, JobStatus.RUNNING))

    assert job.status == JobStatus.CANCELLED, job.log
    assert 1 <= job.progress_done < 60 and "cancel asked by ada" in job.log
    stored = samples_per_prompt(prompt_ids)
    assert all(found in ([], [0, 1, 2]) for found in stored.values())
    assert sum(1 for found in stored.values() if found) == job.progress_done
