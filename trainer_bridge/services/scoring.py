"""Reward-model scoring jobs: a reward model version scores the answers shown in a project's blind
evaluations, so the leaderboard can set each version's mean reward beside the people's votes.

The scoring itself is trainer_bridge.ml.reward.score, imported inside the run (only GPU workers load torch).
Each prompt's answers are scored and stored in one transaction, on the unique key (reward model,
candidate), so a resumed job skips what is stored and stores nothing twice.
"""

from collections import defaultdict

from django.db import transaction
from django.db.models import F

from core.errors import DomainError
from core.types import User
from labeling.access import require_role
from labeling.models import Candidate, Project, Task, TaskKind
from registry.models import ModelVersion
from trainer_bridge.jobs.lifecycle import JOB_ROLE, Run, job_log
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.models import AnswerScore, JobStatus, JobType, ScoringJob


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
        from trainer_bridge.ml.reward import score  # torch: only GPU workers get here

        run.log(f"scoring with {model.name} from {model.path}")
        for answers in by_prompt.values():
            scores = score(
                model.path, answers[0].prompt.messages, [c.text for c in answers], batch_size=job.batch_size
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
    run.finish(JobStatus.DONE, line=f"done: {total} answers scored by {model.name}")
