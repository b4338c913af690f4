"""Generation jobs through a model server (the session's real vLLM server, CPU build) and the fallback."""

from collections import Counter

import pytest
from django.test import override_settings

from labeling.models import Candidate, Task
from registry.client import ChatClient
from registry.models import ModelServer
from registry.services import model_register
from tests.conftest import TEST_SERVER_SETTINGS, VLLM_SERVED_NAME
from tests.factories import import_waiting_prompts
from tests.workers import gpu_worker, wait_for
from trainer_bridge.jobs.lifecycle import job_run, jobs_resume_stale
from trainer_bridge.models import JobStatus
from trainer_bridge.services.generation import generation_job_start
from trainer_bridge.services.servers import model_server_check, model_server_register


@pytest.fixture
def ranking_project(make_project):
    return make_project(name="sums", kinds=["ranking"], k=3)


@pytest.fixture
def served_model(served_model_dir, db):
    return model_register(path=served_model_dir, name="tiny-served-base")


@pytest.fixture
def vllm_registered(vllm_server, served_model, ranking_project, admin):
    """The session's vLLM server, registered for the model as an operator would, and checked."""
    server = model_server_register(
        project=ranking_project,
        model_version=served_model,
        url=vllm_server.url,
        served_model_name=VLLM_SERVED_NAME,
        engine="vllm",
        user=admin,
    )
    return model_server_check(server=server)


def samples_per_prompt(prompt_ids: list[int]) -> dict[int, list[int]]:
    indices: dict[int, list[int]] = {pid: [] for pid in prompt_ids}
    for prompt_id, index in Candidate.objects.filter(prompt_id__in=prompt_ids).values_list(
        "prompt_id", "sample_index"
    ):
        indices[prompt_id].append(index)
    return {pid: sorted(found) for pid, found in indices.items()}


def test_a_job_samples_through_the_vllm_server_registered_for_its_model(
    ranking_project, served_model, vllm_registered, admin, model_root
):
    assert vllm_registered.status == ModelServer.Status.HEALTHY, vllm_registered.detail
    prompt_ids = import_waiting_prompts(ranking_project, 6)
    job = generation_job_start(
        project=ranking_project, model_version=served_model, user=admin, max_new_tokens=16, batch_size=4
    )

    job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.log
    assert f"sampling through vLLM server #{vllm_registered.pk}" in job.log
    assert samples_per_prompt(prompt_ids) == {pid: [0, 1, 2] for pid in prompt_ids}
    assert (job.candidates_created, job.ranking_tasks_created) == (18, 6)
    candidates = Candidate.objects.filter(prompt_id__in=prompt_ids)
    assert {c.sampling_params["engine"] for c in candidates} == {"vllm"}
    assert {c.model_version_id for c in candidates} == {served_model.pk}
    for prompt_id in prompt_ids:  # the K samples of a prompt are K draws, not one answer K times
        assert len(set(candidates.filter(prompt_id=prompt_id).values_list("text", flat=True))) > 1


@pytest.mark.django_db(transaction=True)
def test_a_vllm_job_whose_worker_is_killed_resumes_with_exactly_k_candidates_per_prompt(
    ranking_project, served_model, vllm_registered, admin, celery_worker, tmp_path
):
    prompt_ids = import_waiting_prompts(ranking_project, 120)
    worker = gpu_worker(celery_worker, tmp_path)
    job = generation_job_start(
        project=ranking_project,
        model_version=served_model,
        user=admin,
        max_new_tokens=64,
        temperature=1.5,  # the tiny model rambles on to the token limit: the job lasts long enough to kill
        batch_size=1,
    )

    job = wait_for(job, lambda j: j.progress_done >= 3)
    worker.kill()  # SIGKILL mid-job, with requests in flight to the server
    job = type(job).objects.get(pk=job.pk)
    assert job.status == JobStatus.RUNNING and 3 <= job.progress_done < 120, job.log
    stored = samples_per_prompt(prompt_ids)
    assert all(found in ([], [0, 1, 2]) for found in stored.values())

    gpu_worker(celery_worker, tmp_path)
    assert jobs_resume_stale(stale_seconds=0) == [job.pk]
    job = wait_for(job, lambda j: j.status in (JobStatus.DONE, JobStatus.FAILED), timeout=300)

    assert job.status == JobStatus.DONE, job.log
    assert job.attempts == 2 and job.log.count("sampling through vLLM server") == 2
    assert samples_per_prompt(prompt_ids) == {pid: [0, 1, 2] for pid in prompt_ids}
    assert (job.candidates_created, job.ranking_tasks_created) == (360, 120)
    assert Counter(Task.objects.filter(project=ranking_project).values_list("prompt_id", flat=True)) == {
        pid: 1 for pid in prompt_ids
    }


def test_without_a_server_the_job_samples_with_coachs_loop_where_vllm_is_not_installed(
    ranking_project, base_model, admin, model_root, tmp_path
):
    prompt_ids = import_waiting_prompts(ranking_project, 3)
    job = generation_job_start(
        project=ranking_project, model_version=base_model, user=admin, max_new_tokens=8
    )

    with override_settings(VLLM_PYTHON=str(tmp_path / "no-vllm" / "python")):
        job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.log
    assert "sampling with Coach's transformers loop" in job.log
    assert samples_per_prompt(prompt_ids) == {pid: [0, 1, 2] for pid in prompt_ids}
    assert set(Candidate.objects.values_list("sampling_params__engine", flat=True)) == {"transformers"}


def test_a_job_that_asks_for_vllm_where_it_is_not_installed_fails_saying_so(
    ranking_project, base_model, admin, model_root, tmp_path
):
    import_waiting_prompts(ranking_project, 2)
    job = generation_job_start(
        project=ranking_project, model_version=base_model, user=admin, max_new_tokens=8, engine="vllm"
    )

    with override_settings(VLLM_PYTHON=str(tmp_path / "no-vllm" / "python")):
        job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "vLLM is not installed on this machine" in job.error and not Candidate.objects.exists()


def test_a_vllm_job_with_no_server_starts_one_for_itself_and_stops_it(
    ranking_project, served_model, admin, model_root, tmp_path, vllm_server
):
    prompt_ids = import_waiting_prompts(ranking_project, 4)
    job = generation_job_start(
        project=ranking_project, model_version=served_model, user=admin, max_new_tokens=12, engine="vllm"
    )

    with override_settings(DATA_ROOT=tmp_path, **TEST_SERVER_SETTINGS):
        job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.log
    assert "no vLLM server answers for tiny-served-base: starting one for this job" in job.log
    assert "stopped the job's vLLM server" in job.log
    assert samples_per_prompt(prompt_ids) == {pid: [0, 1, 2] for pid in prompt_ids}
    assert set(Candidate.objects.values_list("sampling_params__engine", flat=True)) == {"vllm"}


def test_the_client_streams_a_reply_from_vllm(vllm_server):
    client = ChatClient(base_url=vllm_server.url, model=VLLM_SERVED_NAME)
    chat = [{"role": "user", "content": "Give me a short tip about sleep."}]

    pieces = list(client.stream(chat, seed=5, max_tokens=24, temperature=1.5))

    assert len(pieces) > 3 and "".join(pieces).strip()
    assert not any("\ufffd" in piece for piece in pieces)


def test_vllm_answers_a_conversation_that_holds_a_search_call_and_its_result(vllm_server):
    """A chat's prefix after the assistant searched: the call (arguments kept as an object, as Coach
    stores them) and the tool's result go to vLLM in the API's form, and it answers."""
    client = ChatClient(base_url=vllm_server.url, model=VLLM_SERVED_NAME)
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "search", "arguments": {"query": "rain"}},
    }
    chat = [
        {"role": "user", "content": "Where can we shelter if it rains?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "name": "search",
            "content": '[{"ref": 1, "title": "Shelters"}]',
        },
    ]

    replies = client.complete(chat, n=2, seed=3, max_tokens=8)
    streamed = "".join(client.stream(chat, seed=4, max_tokens=8))

    assert len(replies) == 2 and all(r.finish_reason in ("stop", "length") for r in replies)
    assert isinstance(streamed, str)
    assert chat[1]["tool_calls"][0]["function"]["arguments"] == {
        "query": "rain"
    }  # the caller's copy unchanged
