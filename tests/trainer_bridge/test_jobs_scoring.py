"""Evaluations on real models: generation jobs write the answers that make the tasks, and a reward model
scores them in a job that a killed worker resumes without scoring anything twice."""

from collections import Counter

import pytest

from labeling.models import Candidate, EvaluationPair, Task
from registry.services import model_register
from tests.factories import import_evaluation_prompts
from tests.workers import gpu_worker, wait_for
from trainer_bridge.jobs.lifecycle import job_run, jobs_resume_stale
from trainer_bridge.leaderboard import leaderboard_payload, project_leaderboard
from trainer_bridge.models import AnswerScore, JobStatus
from trainer_bridge.services.evaluation import evaluation_start
from trainer_bridge.services.scoring import scoring_job_start


@pytest.fixture
def arena(make_project, tiny_model_dir, untrained_model_dir, tiny_reward_model_dir):
    project = make_project(name="arena", kinds=["evaluation"])
    warm = model_register(path=tiny_model_dir, name="tiny-warm")
    cold = model_register(path=untrained_model_dir, name="tiny-cold")
    judge = model_register(path=tiny_reward_model_dir, name="tiny-judge", kind="rm", parent=warm)
    return project, warm, cold, judge


def test_the_generation_jobs_of_an_evaluation_make_its_tasks_and_a_scoring_job_scores_them(
    arena, admin, model_root
):
    from trainer_bridge.ml.reward import score

    project, warm, cold, judge = arena
    prompt_ids = import_evaluation_prompts(project, 3)

    started = evaluation_start(project=project, versions=[warm, cold], user=admin, max_new_tokens=6)
    assert started.plan.tasks_created == 0 and len(started.jobs) == 2
    for job in started.jobs:
        job_run(job_id=job.pk)
        job.refresh_from_db()
        assert job.status == JobStatus.DONE, job.log

    tasks = Task.objects.filter(project=project, kind="evaluation")
    assert tasks.count() == 3 and set(tasks.values_list("prompt_id", flat=True)) == set(prompt_ids)
    for pair in EvaluationPair.objects.filter(project=project).select_related("task"):
        left, right = (Candidate.objects.get(pk=pk) for pk in pair.task.candidate_ids)
        assert (left.model_version_id, right.model_version_id) == (
            pair.left_version_id,
            pair.right_version_id,
        )

    job = scoring_job_start(project=project, reward_model=judge, user=admin)
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.progress_done == job.progress_total == 6, job.log
    stored = dict(AnswerScore.objects.filter(reward_model=judge).values_list("candidate_id", "score"))
    assert len(stored) == 6
    some = Candidate.objects.filter(model_version=warm).select_related("prompt").first()
    assert stored[some.pk] == pytest.approx(score(judge.path, some.prompt.messages, [some.text])[0], abs=1e-4)

    job_run(job_id=job.pk)  # a redelivered message scores nothing again
    assert AnswerScore.objects.count() == 6

    payload = leaderboard_payload(project_leaderboard(project=project, reward_model_id=judge.pk))
    assert payload["votes"] == 0  # nobody voted yet: the board waits for votes
    view = project_leaderboard(project=project)
    assert view.reward_model == judge  # the newest reward model with scores is chosen by default


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_scoring_then_resuming_scores_every_answer_once(
    arena, admin, celery_worker, tmp_path
):
    project, warm, cold, judge = arena
    prompt_ids = import_evaluation_prompts(project, 30)
    from labeling.services.evaluation import evaluation_pairs_plan
    from labeling.services.imports import candidates_add

    evaluation_pairs_plan(project=project, versions=[warm, cold], prompt_ids=prompt_ids, user=admin)
    for prompt in project.prompts.all():
        for version in (warm, cold):
            candidates_add(
                prompt=prompt,
                texts=[f"{version.name} says: idea {prompt.pk} is simple." * 4],
                model_name=version.candidate_model_name,
                sampling_params={},
                model_version_id=version.pk,
            )
    assert Task.objects.filter(project=project).count() == 30
    worker = gpu_worker(celery_worker, tmp_path)
    job = scoring_job_start(project=project, reward_model=judge, user=admin, batch_size=1)

    job = wait_for(job, lambda j: j.progress_done >= 4)
    worker.kill()  # SIGKILL mid-job
    job = type(job).objects.get(pk=job.pk)
    assert job.status == JobStatus.RUNNING and 4 <= job.progress_done < 60, job.log
    assert AnswerScore.objects.count() == job.progress_done  # a prompt's scores and their count, together

    gpu_worker(celery_worker, tmp_path)
    assert jobs_resume_stale(stale_seconds=0) == [job.pk]
    job = wait_for(job, lambda j: j.status in (JobStatus.DONE, JobStatus.FAILED))

    assert job.status == JobStatus.DONE, job.log
    assert job.attempts == 2 and "were scored already; skipping them" in job.log
    assert Counter(AnswerScore.objects.values_list("candidate_id", flat=True)) == {
        cid: 1 for cid in job.candidate_ids
    }
