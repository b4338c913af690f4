import pytest

from labeling.models import Candidate
from registry.services import model_register
from tests.factories import import_waiting_prompts
from trainer_bridge.jobs.lifecycle import job_log, job_run
from trainer_bridge.models import GenerationJob, JobStatus, TrainingJob
from trainer_bridge.services.generation import generation_job_start
from trainer_bridge.services.training import training_job_start


@pytest.fixture
def generation_job(project, base_model, admin, model_root) -> GenerationJob:
    import_waiting_prompts(project, 2)
    return generation_job_start(project=project, model_version=base_model, user=admin, k=4, max_new_tokens=4)


@pytest.fixture
def trained_rm(snapshot, base_model, admin, model_root) -> TrainingJob:
    job = training_job_start(
        snapshot=snapshot,
        base_model=base_model,
        kind="rm",
        user=admin,
        config={"max_steps": 2, "groups_per_batch": 2, "log_every": 1, "eval_every": 1},
    )
    job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_a_labeler_cannot_start_or_cancel_jobs_and_a_stranger_sees_nothing(
    project, generation_job, base_model, add_member, make_user, api
):
    labeler, stranger = api(add_member(project, "lea")), api(make_user("eve"))
    start = {"model_version": base_model.pk, "k": 4, "max_new_tokens": 4}

    assert (
        labeler.post(f"/api/projects/{project.pk}/generation-jobs/", start, format="json").status_code == 403
    )
    assert labeler.get(f"/api/generation-jobs/{generation_job.pk}/").status_code == 403
    assert labeler.post(f"/api/generation-jobs/{generation_job.pk}/cancel/").status_code == 403
    assert stranger.post(
        f"/api/projects/{project.pk}/generation-jobs/", start, format="json"
    ).status_code in (
        403,
        404,
    )
    assert stranger.get(f"/api/generation-jobs/{generation_job.pk}/").status_code in (403, 404)
    assert GenerationJob.objects.count() == 1
    assert GenerationJob.objects.get().status == JobStatus.QUEUED


def test_a_reviewer_follows_a_job_and_an_admin_starts_and_cancels_one(
    project, generation_job, base_model, add_member, admin, api
):
    reviewer = api(add_member(project, "rita", "reviewer"))
    body = reviewer.get(f"/api/generation-jobs/{generation_job.pk}/").json()
    assert (body["status"], body["k"], body["prompts"], body["progress"]) == ("queued", 4, 2, 0.0)
    assert reviewer.post(f"/api/generation-jobs/{generation_job.pk}/cancel/").status_code == 403

    started = api(admin).post(
        f"/api/projects/{project.pk}/generation-jobs/",
        {"model_version": base_model.pk, "k": 4, "which": "all", "max_new_tokens": 4},
        format="json",
    )
    assert started.status_code == 202, started.json()
    cancelled = api(admin).post(f"/api/generation-jobs/{started.json()['id']}/cancel/")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"


def test_the_live_status_is_json_with_progress(client, project, generation_job, admin):

    client.force_login(admin)
    before = client.get(f"/jobs/generation/{generation_job.pk}/live/?format=json").json()
    assert (before["status"], before["progress_done"], before["progress_total"]) == ("queued", 0, 2)

    job_run(job_id=generation_job.pk)

    after = client.get(f"/jobs/generation/{generation_job.pk}/live/?format=json").json()
    assert (after["status"], after["progress"], after["candidates_created"]) == ("done", 1.0, 8)
    assert any("done: 2 prompts have 4 candidates each" in line for line in after["log"])
    assert Candidate.objects.count() == 8


def test_a_training_job_page_plots_its_loss_and_pair_accuracy(client, trained_rm, admin):
    client.force_login(admin)
    page = client.get(f"/jobs/training/{trained_rm.pk}/").content.decode()

    assert page.count("<svg") >= 2 and "Loss" in page and "Pair accuracy" in page
    assert "polyline" in page or "<path" in page
    assert trained_rm.output_model.name in page


def test_model_names_and_log_lines_are_escaped(client, project, generation_job, untrained_model_dir, admin):
    model = model_register(
        path=untrained_model_dir, name="<script>alert('m')</script>", project_id=project.pk
    )
    job_log(generation_job, "<img src=x onerror=alert('log')>")
    client.force_login(admin)

    models_page = client.get(f"/projects/{project.pk}/models/").content.decode()
    model_page = client.get(f"/projects/{project.pk}/models/{model.pk}/").content.decode()
    job_page = client.get(f"/jobs/generation/{generation_job.pk}/").content.decode()

    for page in (models_page, model_page):
        assert "<script>alert(" not in page and "&lt;script&gt;alert(" in page
    assert "<img src=x" not in job_page and "&lt;img src=x" in job_page


def test_a_labeler_gets_no_job_pages_and_a_stranger_no_project(
    client, project, generation_job, add_member, make_user
):
    client.force_login(add_member(project, "lea"))
    assert client.get(f"/projects/{project.pk}/jobs/").status_code == 403
    assert client.post(f"/projects/{project.pk}/jobs/generation/", {"model_version": 1}).status_code == 403
    assert client.get(f"/jobs/generation/{generation_job.pk}/").status_code == 403
    client.force_login(make_user("eve"))
    assert client.get(f"/projects/{project.pk}/jobs/").status_code == 404
    assert client.get(f"/projects/{project.pk}/models/").status_code == 404
