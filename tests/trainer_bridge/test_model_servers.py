"""The model server registry: started (page, API, command), checked, stopped, and who may."""

import io
import socket

import pytest
from django.core.management import CommandError, call_command

from labeling.models import Candidate
from registry.client import ChatClient, ServerUnavailable
from registry.models import ModelServer
from tests.conftest import VLLM_SERVED_NAME
from tests.factories import import_waiting_prompts
from tests.workers import wait_for
from trainer_bridge.jobs.lifecycle import job_cancel, jobs_resume_stale
from trainer_bridge.models import GenerationJob, JobStatus, ServingJob
from trainer_bridge.services.generation import generation_job_start
from trainer_bridge.services.servers import (
    model_server_check,
    model_server_register,
    model_server_start,
    model_servers_check,
)

Status = ModelServer.Status


@pytest.fixture
def shared_model(tiny_model_dir, db):
    from registry.services import model_register

    return model_register(path=tiny_model_dir, name="tiny-chat")


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


@pytest.mark.django_db(transaction=True)
def test_an_admin_starts_a_server_on_the_models_page_jobs_sample_through_it_and_stop_takes_it_down(
    project, admin, shared_model, client, celery_worker, tmp_path
):
    env = {"COACH_SERVER_THREADS": "1", "COACH_DATA_ROOT": str(tmp_path), "COACH_SERVER_CHECK_SECONDS": "1"}
    celery_worker(**env, COACH_JOB_HEARTBEAT_SECONDS="0.2")
    celery_worker(**env, COACH_JOB_HEARTBEAT_SECONDS="0.2")  # the first one will be busy serving
    client.force_login(admin)

    page = client.post(
        f"/projects/{project.pk}/servers/",
        {"model_version": shared_model.pk, "engine": "transformers"},
        follow=True,
    )
    server = ModelServer.objects.get()
    assert f"Starting transformers (Coach&#x27;s own server) server #{server.pk}" in page.content.decode()

    server = wait_for(server, lambda s: s.status != Status.STARTING, timeout=300)
    assert server.status == Status.HEALTHY, server.detail
    page = client.get(f"/projects/{project.pk}/models/").content.decode()
    assert "healthy" in page and server.url in page and "ada" in page

    prompt_ids = import_waiting_prompts(project, 3)
    job = generation_job_start(project=project, model_version=shared_model, user=admin, max_new_tokens=8)
    job = wait_for(job, lambda j: j.status in GenerationJob.FINISHED, timeout=300)
    assert job.status == JobStatus.DONE, job.log
    assert f"sampling through {server}" in job.log
    assert Candidate.objects.filter(prompt_id__in=prompt_ids).count() == 3 * project.k
    assert set(Candidate.objects.values_list("sampling_params__engine", flat=True)) == {"transformers"}

    client.post(f"/projects/{project.pk}/servers/{server.pk}/", {"action": "stop"})
    server = wait_for(server, lambda s: s.status == Status.STOPPED, timeout=120)
    # the server is marked stopped, then its job writes its end: wait for the job too
    serving = wait_for(
        ServingJob.objects.get(server=server), lambda j: j.status != JobStatus.RUNNING, timeout=60
    )
    assert serving.status == JobStatus.DONE and "stopped as asked" in serving.log
    with pytest.raises(ServerUnavailable, match="cannot be reached"):
        ChatClient(base_url=server.url, model=server.served_model_name, retries=0).served_models()
    assert "cancel asked by ada" in serving.log and server.detail == "stopped"


@pytest.mark.django_db(transaction=True)
def test_a_server_dies_with_the_worker_that_ran_it_and_comes_back_when_its_job_resumes(
    project, admin, shared_model, celery_worker, tmp_path
):
    env = {
        "COACH_SERVER_THREADS": "1",
        "COACH_DATA_ROOT": str(tmp_path),
        "COACH_JOB_HEARTBEAT_SECONDS": "0.2",
    }
    worker = celery_worker(**env)
    server = model_server_start(
        project=project, model_version=shared_model, user=admin, engine="transformers"
    )
    server = wait_for(server, lambda s: s.status != Status.STARTING, timeout=300)
    assert server.status == Status.HEALTHY, server.detail
    first = ChatClient(base_url=server.url, model=server.served_model_name, retries=0)
    assert first.served_models() == ["tiny-chat"]

    worker.kill()  # SIGKILL: the serving job's process cannot stop its server itself

    gone = wait_for(server, lambda s: _refused(first), timeout=60)
    assert _refused(first), "the server outlived the worker that started it"
    celery_worker(**env)
    assert jobs_resume_stale(stale_seconds=0) == [server.job.pk]
    back = wait_for(gone, lambda s: s.status == Status.HEALTHY and s.url != first.base_url, timeout=300)
    assert back.status == Status.HEALTHY, back.detail
    assert ChatClient(base_url=back.url, model=back.served_model_name).served_models() == ["tiny-chat"]
    assert ServingJob.objects.get(server=back).attempts == 2


def _refused(client: ChatClient) -> bool:
    try:
        client.served_models()
    except ServerUnavailable:
        return True
    return False


def test_who_may_see_start_register_check_and_stop_servers(
    project, make_project, admin, add_member, make_user, api, shared_model
):
    lea, rita = add_member(project, "lea"), add_member(project, "rita", "reviewer")
    otto = add_member(project, "otto", "admin")  # an admin, not site staff
    eve = make_user("eve")
    start = f"/api/projects/{project.pk}/model-servers/"
    register = f"/api/projects/{project.pk}/model-servers/register/"
    body = {"model_version": shared_model.pk, "engine": "transformers"}

    assert api(eve).get(start).status_code == 404
    assert api(lea).get(start).status_code == 403
    assert api(rita).get(start).json() == []
    for user, status in ((eve, 404), (lea, 403), (rita, 403)):
        assert api(user).post(start, body, format="json").status_code == status
    assert api(otto).post(
        register, {"model_version": shared_model.pk, "url": "http://gpu-3:8000/v1"}
    ).json() == {
        "error": "forbidden",
        "detail": "registering a server's address (Coach sends prompts there) is for site staff",
    }
    for bad, field in [
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "http://gpu-3:8000/v1", "api_key_env": "sk-live-123"}, "api_key_env"),
        ({"url": "http://gpu-3:8000/v1", "engine": "tgi"}, "engine"),
    ]:
        answer = api(admin).post(register, {"model_version": shared_model.pk} | bad, format="json")
        assert (answer.status_code, answer.json()["field"]) == (400, field), bad
    for options, field in [
        ({"engine": "transformers", "options": {"max_model_len": 512}}, "options"),
        ({"engine": "vllm", "options": {"tensor_parallel_size": 0}}, "tensor_parallel_size"),
        ({"engine": "vllm", "options": {"seed": 1}}, "options"),
    ]:
        answer = api(admin).post(start, {"model_version": shared_model.pk} | options, format="json")
        assert (answer.status_code, answer.json()["field"]) == (400, field), options
    assert not ModelServer.objects.exists()  # no refusal changed anything

    answer = api(otto).post(start, body, format="json")
    assert answer.status_code == 202 and answer.json()["status"] == "starting"
    server_id = answer.json()["id"]
    assert api(rita).get(f"/api/model-servers/{server_id}/").json()["created_by"] == "otto"
    for user, status in ((eve, 404), (lea, 403), (rita, 403)):
        assert api(user).post(f"/api/model-servers/{server_id}/stop/").status_code == status
        assert api(user).post(f"/api/model-servers/{server_id}/check/").status_code == status
    other = make_project(name="other")
    assert (
        api(admin).get(f"/api/projects/{other.pk}/model-servers/").json() != []
    )  # a live shared model's server
    answer = api(admin).post(f"/api/model-servers/{server_id}/stop/")
    assert (
        answer.status_code == 202 and answer.json()["status"] == "stopped"
    )  # it never started: stopped at once
    assert ServingJob.objects.get(server_id=server_id).status == JobStatus.CANCELLED
    assert api(admin).post(f"/api/model-servers/{server_id}/stop/").status_code == 409
    assert api(admin).get(f"/api/projects/{other.pk}/model-servers/").json() == []  # stopped: only its own


def test_a_registered_server_is_healthy_while_it_answers_and_jobs_stop_using_it_once_unregistered(
    project, admin, served_model_dir, vllm_server, api, model_root
):
    from registry.services import model_register

    model = model_register(path=served_model_dir, name="tiny-served-base")
    register = f"/api/projects/{project.pk}/model-servers/register/"
    answer = api(admin).post(
        register,
        {
            "model_version": model.pk,
            "url": vllm_server.url,
            "served_model_name": VLLM_SERVED_NAME,
            "engine": "vllm",
        },
        format="json",
    )
    assert answer.status_code == 201
    server_id = answer.json()["id"]
    checked = api(admin).post(f"/api/model-servers/{server_id}/check/").json()
    assert (checked["status"], checked["detail"]) == ("healthy", f"answering for {VLLM_SERVED_NAME}")

    wrong_name = model_server_register(
        project=project, model_version=model, url=vllm_server.url, served_model_name="nobody", user=admin
    )
    dead = model_server_register(project=project, model_version=model, url=closed_port_url(), user=admin)
    assert model_servers_check() == 3
    wrong_name.refresh_from_db()
    dead.refresh_from_db()
    assert wrong_name.status == Status.UNHEALTHY and "not 'nobody'" in wrong_name.detail
    assert dead.status == Status.UNHEALTHY and "cannot be reached" in dead.detail

    assert api(admin).post(f"/api/model-servers/{server_id}/stop/").json()["detail"] == "unregistered by ada"
    import_waiting_prompts(project, 2)
    job = generation_job_start(project=project, model_version=model, user=admin, max_new_tokens=4)
    from trainer_bridge.jobs.lifecycle import job_run

    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and "sampling with Coach's transformers loop" in job.log


def test_the_beat_stops_the_record_of_a_server_whose_serving_job_was_cancelled_before_it_ran(
    project, admin, shared_model
):
    server = model_server_start(
        project=project, model_version=shared_model, user=admin, engine="transformers"
    )
    job_cancel(job=server.job, user=admin)  # from the job page, not the server's Stop

    model_servers_check()

    server.refresh_from_db()
    assert (server.status, server.detail) == (Status.STOPPED, "its serving job is cancelled")
    with pytest.raises(Exception, match="stopped"):
        model_server_check(server=server)


def test_the_model_server_command_lists_starts_checks_and_stops(project, admin, shared_model):
    out = io.StringIO()
    call_command(
        "model_server",
        "start",
        "--project",
        project.name,
        "--model",
        "tiny-chat",
        "--engine",
        "transformers",
        stdout=out,
    )
    server = ModelServer.objects.get()
    assert f"starting server #{server.pk} (serving job #{server.job.pk})" in out.getvalue()

    out = io.StringIO()
    call_command("model_server", "list", "--project", str(project.pk), stdout=out)
    assert f"#{server.pk} transformers tiny-chat starting (no address yet) queued" in out.getvalue()

    out = io.StringIO()
    call_command("model_server", "stop", str(server.pk), stdout=out)
    assert "tiny-chat stopped (no address yet) stopped by the system" in out.getvalue()
    with pytest.raises(CommandError, match="the server is stopped already"):
        call_command("model_server", "stop", str(server.pk))
    with pytest.raises(CommandError, match="there is no model server #999999"):
        call_command("model_server", "check", "999999")
