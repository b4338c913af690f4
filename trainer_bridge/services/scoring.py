"""Reward-model scoring jobs. A reward model version scores either the answers shown in a project's blind
evaluations, so the leaderboard can set each version's mean reward beside the people's votes, or the
answers of the project's open ranking tasks, so the queue can hand out the tasks it is least sure of first
(active task selection: each task's uncertainty is written onto the task, see labeling.active).

The scoring itself is trainer_bridge.ml.reward.Scorer, imported inside the run (only GPU workers load torch).
Each prompt's answers are scored and stored in one transaction, on the unique key (reward model,
candidate), so a resumed job skips what is stored and stores nothing twice. A queue scoring job ends by
writing the uncertainties of every open ranking task whose answers the model has scored; writing them again
gives the same values, so a resumed job may do it twice.
"""

from collections import defaultdict

from django.db import transaction
from django.db.models import F

from core.errors import DomainError
from core.types import User
from labeling.access import require_role
from labeling.models import Candidate, Project, QueueOrder, Task, TaskKind
from labeling.selectors.active import open_ranking_tasks
from labeling.services.active import check_queue_reward_model, task_reward_scores_store
from registry.models import ModelVersion
from trainer_bridge.jobs.lifecycle import JOB_ROLE, Run, job_log
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.models import AnswerScore, JobStatus, JobType, RetrainRun, ScoringJob, TrainingJob


def evaluation_answer_ids(*, project: Project) -> list[int]:
    """Every candidate shown in the project's evaluation tasks."""
    ids = {
        cid
        for pair in Task.objects.filter(project=project, kind=TaskKind.EVALUATION).values_list(
            "candidate_ids", flat=True
        )
        for cid in pair
    }
    return sorted(ids)


@transaction.atomic
def scoring_job_start(
    *, project: Project, reward_model: ModelVersion, user: User | None, batch_size: int = 16
) -> ScoringJob:
    """Queue a job that scores, with `reward_model`, each evaluation answer it has not scored yet."""
    if user is not None:
        require_role(user=user, project=project, role=JOB_ROLE)
    if refusal := reward_model.adapter_refusal():
        raise DomainError(refusal, field="reward_model")
    if reward_model.kind != ModelVersion.Kind.RM:
        raise DomainError(f"{reward_model.name} is not a reward model", field="reward_model")
    if reward_model.project_id not in (None, project.pk):
        raise DomainError("this model belongs to another project", field="reward_model")
    if not 1 <= batch_size <= 512:
        raise DomainError("batch_size is between 1 and 512", field="batch_size")
    answers = evaluation_answer_ids(project=project)
    if not answers:
        raise DomainError(
            "the project has no evaluation task yet: there is nothing to score", field="project"
        )
    scored = set(
        AnswerScore.objects.filter(reward_model=reward_model, candidate_id__in=answers).values_list(
            "candidate_id", flat=True
        )
    )
    todo = [cid for cid in answers if cid not in scored]
    if not todo:
        raise DomainError(
            f"{reward_model.name} has scored every evaluation answer already", field="reward_model"
        )
    job = ScoringJob.objects.create(
        type=JobType.SCORING,
        project=project,
        model_version=reward_model,
        candidate_ids=todo,
        batch_size=batch_size,
        progress_total=len(todo),
        created_by=user,
    )
    job_log(job, f"queued: {len(todo)} evaluation answers to score with {reward_model.name}")
    job_dispatch(job)
    return job


@transaction.atomic
def queue_scoring_job_start(
    *,
    project: Project,
    user: User | None,
    reward_model: ModelVersion | None = None,
    batch_size: int = 64,
    robust_dispatch: bool = False,
) -> ScoringJob:
    """Queue a job that scores the open ranking tasks' answers with the queue's reward model (or the one
    given), then writes each task's uncertainty for the queue to order by. Answers the model has scored
    before are not scored again."""
    if user is not None:
        require_role(user=user, project=project, role=JOB_ROLE)
    model = reward_model or project.queue_reward_model
    if model is None:
        raise DomainError("choose the reward model that scores the queue first", field="reward_model")
    check_queue_reward_model(project=project, reward_model=model)
    if not 1 <= batch_size <= 512:
        raise DomainError("batch_size is between 1 and 512", field="batch_size")
    tasks = open_ranking_tasks(project=project)
    if not tasks:
        raise DomainError("the project has no open ranking task: there is nothing to score", field="project")
    answers = sorted({cid for _, ids in tasks for cid in ids})
    scored = set(
        AnswerScore.objects.filter(reward_model=model, candidate_id__in=answers).values_list(
            "candidate_id", flat=True
        )
    )
    todo = [cid for cid in answers if cid not in scored]
    job = ScoringJob.objects.create(
        type=JobType.SCORING,
        purpose=ScoringJob.Purpose.QUEUE,
        project=project,
        model_version=model,
        candidate_ids=todo,
        batch_size=batch_size,
        progress_total=len(todo),
        created_by=user,
    )
    job_log(
        job,
        f"queued: {len(todo)} answers of {len(tasks)} open ranking tasks to score with {model.name} "
        f"({len(scored)} scored before), then each task's uncertainty to write",
    )
    job_dispatch(job, robust=robust_dispatch)
    return job


def queue_refresh_after_retrain(*, job: TrainingJob, model: ModelVersion) -> ScoringJob | None:
    """After a retrain policy's reward-model training registered `model`: it becomes the project's queue
    reward model, and a project whose queue follows uncertainty gets a scoring job with it. Inside the
    registration's transaction; the job is sent when it commits."""
    if model.kind != ModelVersion.Kind.RM or not RetrainRun.objects.filter(training_job=job).exists():
        return None
    project = Project.objects.select_for_update().get(pk=job.project_id)
    project.queue_reward_model = model
    project.save(update_fields=["queue_reward_model"])
    if project.queue_order != QueueOrder.UNCERTAINTY or not open_ranking_tasks(project=project):
        return None
    # sent after the training's registration commits; a broker that cannot be reached then fails the
    # scoring job (its log says why), never the training that finished
    return queue_scoring_job_start(project=project, user=None, reward_model=model, robust_dispatch=True)


def scoring_work(run: Run, job: ScoringJob) -> None:
    """Score (or go on scoring) the job's answers, one prompt's answers at a time."""
    model = job.model()
    stored = set(
        AnswerScore.objects.filter(reward_model=model, candidate_id__in=job.candidate_ids).values_list(
            "candidate_id", flat=True
        )
    )
    by_prompt: dict[int, list[Candidate]] = defaultdict(list)
    for candidate in (
        Candidate.objects.filter(pk__in=job.candidate_ids)
        .exclude(pk__in=stored)
        .select_related("prompt")
        .order_by("prompt_id", "pk")
    ):
        by_prompt[candidate.prompt_id].append(candidate)
    run.update(progress_done=len(stored), progress_total=len(job.candidate_ids))
    if stored:
        run.log(f"{len(stored)} of {len(job.candidate_ids)} answers were scored already; skipping them")
    if by_prompt:
        from trainer_bridge.ml.reward import Scorer  # torch: only GPU workers get here

        run.log(f"scoring with {model.name} from {model.path}")
        scorer = Scorer(model.path)
        for answers in by_prompt.values():
            scores = scorer.score(
                answers[0].prompt.messages, [c.text for c in answers], batch_size=job.batch_size
            )
            with transaction.atomic():  # a prompt's scores and the progress that counts them, together
                AnswerScore.objects.bulk_create(
                    [
                        AnswerScore(candidate=c, reward_model=model, score=float(s), job=job)
                        for c, s in zip(answers, scores, strict=True)
                    ],
                    ignore_conflicts=True,
                )
                run.update(progress_done=F("progress_done") + len(answers))
            run.check()
    total = AnswerScore.objects.filter(reward_model=model, candidate_id__in=job.candidate_ids).count()
    if job.purpose == ScoringJob.Purpose.QUEUE:
        written = _queue_uncertainties_store(job, model)
        run.finish(
            JobStatus.DONE,
            line=f"done: {total} answers scored by {model.name}; uncertainty written on "
            f"{written} open ranking tasks",
        )
        return
    run.finish(JobStatus.DONE, line=f"done: {total} answers scored by {model.name}")


def _queue_uncertainties_store(job: ScoringJob, model: ModelVersion) -> int:
    """Each open ranking task whose answers the model has all scored gets their scores and its uncertainty."""
    tasks = open_ranking_tasks(project=job.project)
    found = dict(
        AnswerScore.objects.filter(
            reward_model=model, candidate_id__in={cid for _, ids in tasks for cid in ids}
        ).values_list("candidate_id", "score")
    )
    scores = {tid: [found[c] for c in ids] for tid, ids in tasks if ids and all(c in found for c in ids)}
    return task_reward_scores_store(project=job.project, reward_model=model, scores=scores)
