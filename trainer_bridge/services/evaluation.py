"""Starting a blind A/B evaluation: plan the comparisons (labeling.services.evaluation) and queue one
generation job per version for the prompts it has not answered yet. The tasks appear as the answers do."""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from core.errors import DomainError
from core.types import User
from labeling.access import require_role
from labeling.models import Candidate, EvaluationPair, Project, Prompt, TaskKind
from labeling.services.evaluation import EvaluationPlan, evaluation_pairs_plan
from registry.models import ModelVersion
from trainer_bridge.jobs.lifecycle import JOB_ROLE
from trainer_bridge.models import GenerationJob
from trainer_bridge.services.generation import generation_job_start

MAX_PROMPTS = 100_000


@dataclass(frozen=True)
class EvaluationStarted:
    plan: EvaluationPlan
    jobs: list[GenerationJob]


def evaluation_prompt_ids(*, project: Project, source: str | None, limit: int | None) -> list[int]:
    """The prompt set: those imported for evaluation (no source), or every prompt of a source."""
    if limit is not None and not 1 <= limit <= MAX_PROMPTS:
        raise DomainError(f"limit is between 1 and {MAX_PROMPTS}", field="limit")
    prompts = Prompt.objects.filter(project=project)
    if source is None:
        prompts = prompts.filter(metadata__task_kind=TaskKind.EVALUATION)
    else:
        prompts = prompts.filter(source=source)
    ids = list(prompts.order_by("pk").values_list("pk", flat=True)[: limit or MAX_PROMPTS])
    if not ids:
        where = f"of source {source!r}" if source is not None else "imported as evaluation prompts"
        raise DomainError(f"the project has no prompts {where}", field="source")
    return ids


@transaction.atomic
def evaluation_start(
    *,
    project: Project,
    versions: list[ModelVersion],
    user: User | None,
    source: str | None = None,
    limit: int | None = None,
    pairs_per_prompt: int | None = None,
    seed: int = 0,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    top_p: float = 1.0,
) -> EvaluationStarted:
    """Plan the comparisons of `versions` on the prompt set, and queue a generation job (one answer per
    prompt) for each version that has not answered all of its planned prompts; imported answers that name
    a registered version count as its answers."""
    if user is not None:
        require_role(user=user, project=project, role=JOB_ROLE)
    prompt_ids = evaluation_prompt_ids(project=project, source=source, limit=limit)
    plan = evaluation_pairs_plan(
        project=project,
        versions=versions,
        prompt_ids=prompt_ids,
        pairs_per_prompt=pairs_per_prompt,
        seed=seed,
        user=user,
    )
    jobs = []
    for version in {v.pk: v for v in versions}.values():
        planned = set(
            EvaluationPair.objects.filter(prompt_id__in=prompt_ids, task__isnull=True)
            .filter(Q(left_version=version) | Q(right_version=version))
            .values_list("prompt_id", flat=True)
        )
        answered = set(
            Candidate.objects.filter(prompt_id__in=planned, model_version=version).values_list(
                "prompt_id", flat=True
            )
        )
        if needed := sorted(planned - answered):
            jobs.append(
                generation_job_start(
                    project=project,
                    model_version=version,
                    user=user,
                    k=1,
                    prompt_ids=needed,
                    max_new_tokens=max_new_tokens,
                    temperature=temperature,
                    top_p=top_p,
                    seed=seed,
                )
            )
    return EvaluationStarted(plan=plan, jobs=jobs)
