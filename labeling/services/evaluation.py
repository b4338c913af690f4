"""Blind A/B evaluation of model versions: plan which versions meet on which prompt, make a task once both
have answered, and record each labeler's vote.

How pairs are sampled. With V versions there are V(V-1)/2 pairs of versions; each prompt gets
`pairs_per_prompt` of them. Prompts are taken in order, and each takes the pairs compared least often so
far in the project (ties broken by the seeded random order), so every pair of versions is compared
equally often to within one comparison, whatever the number of prompts, and a later plan with a new
version fills in that version's pairs first. Which version is shown on the left is drawn per pair from the
same seeded generator and kept on the pair (and in the task's candidate order), so position bias can be
measured afterwards.
"""

import random
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from django.db import transaction

from core.errors import DomainError
from core.types import User
from guidelines.models import GuidelineVersion
from labeling.access import require_role
from labeling.models import (
    Assignment,
    Candidate,
    EvaluationDraft,
    EvaluationPair,
    EvaluationVote,
    Project,
    Prompt,
    Role,
    Task,
    TaskKind,
    VoteChoice,
)
from labeling.services.annotations import (
    WrongKind,
    assignment_complete,
    labeler_guideline_version,
    seconds_on_task,
)
from labeling.services.queue import locked_assignment, require_live
from registry.models import ModelVersion

MAX_REASON = 2000
MAX_VERSIONS = 16
MAX_PLANNED = 200_000  # comparisons one plan may add (prompts × pairs per prompt)


class InvalidVote(DomainError):
    code = "invalid_vote"


@dataclass(frozen=True)
class EvaluationPlan:
    pairs_planned: int
    tasks_created: int
    prompts: int


def version_pairs(version_ids: list[int]) -> list[tuple[int, int]]:
    """Every unordered pair of distinct versions, smaller id first."""
    return list(combinations(sorted(set(version_ids)), 2))


def _checked_versions(project: Project, versions: list[ModelVersion]) -> list[ModelVersion]:
    distinct = list({v.pk: v for v in versions}.values())
    if len(distinct) < 2:
        raise DomainError("choose at least two model versions to compare", field="versions")
    if len(distinct) > MAX_VERSIONS:
        raise DomainError(f"compare at most {MAX_VERSIONS} model versions at once", field="versions")
    for version in distinct:
        if refusal := version.adapter_refusal():
            raise DomainError(refusal, field="versions")
        if version.kind == ModelVersion.Kind.RM:
            raise DomainError(f"{version.name} is a reward model: it scores answers", field="versions")
        if version.project_id not in (None, project.pk):
            raise DomainError(f"{version.name} belongs to another project", field="versions")
    return distinct


@transaction.atomic
def evaluation_pairs_plan(
    *,
    project: Project,
    versions: list[ModelVersion],
    prompt_ids: list[int],
    pairs_per_prompt: int | None = None,
    seed: int = 0,
    user: User | None,
) -> EvaluationPlan:
    """Plan blind comparisons of `versions` on the prompts; a pair's task comes once both have answered.

    `pairs_per_prompt` defaults to every pair of versions. Re-planning the same prompts and versions adds
    nothing: pairs already planned count toward each prompt's share.
    """
    if user is not None:
        require_role(user=user, project=project, role=Role.ADMIN)
    if TaskKind.EVALUATION not in project.task_kinds:
        raise DomainError("add the evaluation task kind to the project's settings first", field="task_kinds")
    distinct = _checked_versions(project, versions)
    pairs = version_pairs([v.pk for v in distinct])
    per_prompt = len(pairs) if pairs_per_prompt is None else pairs_per_prompt
    if isinstance(per_prompt, bool) or not 1 <= per_prompt <= len(pairs):
        raise DomainError(
            f"pairs per prompt is between 1 and {len(pairs)} (every pair of {len(distinct)} versions)",
            field="pairs_per_prompt",
        )
    prompts = list(
        Prompt.objects.filter(project=project, pk__in=prompt_ids).order_by("pk").values_list("pk", flat=True)
    )
    if missing := sorted(set(prompt_ids) - set(prompts))[:10]:
        raise DomainError(f"prompts {missing} are not in this project", field="prompts")
    if not prompts:
        raise DomainError("no prompt matches: choose a source that has prompts", field="source")
    if len(prompts) * per_prompt > MAX_PLANNED:
        raise DomainError(
            f"plan at most {MAX_PLANNED:,} comparisons at once: fewer prompts or fewer pairs per prompt",
            field="limit",
        )

    ids = [v.pk for v in distinct]
    planned: Counter[tuple[int, int]] = Counter()
    on_prompt: dict[int, set[tuple[int, int]]] = {}
    for prompt_id, left, right in EvaluationPair.objects.filter(
        project=project, left_version_id__in=ids, right_version_id__in=ids
    ).values_list("prompt_id", "left_version_id", "right_version_id"):
        pair = (min(left, right), max(left, right))
        planned[pair] += 1
        on_prompt.setdefault(prompt_id, set()).add(pair)

    rng = random.Random(seed)
    rows = []
    for prompt_id in prompts:
        have = on_prompt.get(prompt_id, set())
        open_pairs = [p for p in pairs if p not in have]
        rng.shuffle(open_pairs)
        open_pairs.sort(key=lambda p: planned[p])  # stable: the least compared first, ties in seeded order
        for low, high in open_pairs[: max(0, per_prompt - len(have))]:
            planned[(low, high)] += 1
            left, right = (low, high) if rng.random() < 0.5 else (high, low)
            rows.append(
                EvaluationPair(
                    project=project, prompt_id=prompt_id, left_version_id=left, right_version_id=right
                )
            )
    EvaluationPair.objects.bulk_create(rows, ignore_conflicts=True)
    tasks = evaluation_tasks_create(project=project, prompt_ids=prompts)
    return EvaluationPlan(pairs_planned=len(rows), tasks_created=tasks, prompts=len(prompts))


def evaluation_tasks_create(*, project: Project, prompt_ids: list[int]) -> int:
    """Make the task of every planned pair of these prompts whose two versions have both answered.

    A version's answer to a prompt is its candidate with the lowest sample index. The pairs are locked
    before the answers are read, so two generation jobs storing the two answers at the same moment cannot
    both miss the other's: the second waits for the first to commit, then sees its answer.
    """
    if TaskKind.EVALUATION not in project.task_kinds or not prompt_ids:
        return 0
    waiting = list(
        EvaluationPair.objects.select_for_update()
        .filter(project=project, prompt_id__in=prompt_ids, task__isnull=True)
        .order_by("pk")
    )
    if not waiting:
        return 0
    version_ids = {v for p in waiting for v in (p.left_version_id, p.right_version_id)}
    answer: dict[tuple[int, int], int] = {}
    for prompt_id, version_id, candidate_id in (
        Candidate.objects.filter(
            prompt_id__in={p.prompt_id for p in waiting}, model_version_id__in=version_ids
        )
        .order_by("prompt_id", "model_version_id", "sample_index", "pk")
        .values_list("prompt_id", "model_version_id", "pk")
    ):
        answer.setdefault((prompt_id, version_id), candidate_id)
    ready = [
        p
        for p in waiting
        if (p.prompt_id, p.left_version_id) in answer and (p.prompt_id, p.right_version_id) in answer
    ]
    tasks = Task.objects.bulk_create(
        [
            Task(
                project=project,
                prompt_id=p.prompt_id,
                kind=TaskKind.EVALUATION,
                candidate_ids=[
                    answer[(p.prompt_id, p.left_version_id)],
                    answer[(p.prompt_id, p.right_version_id)],
                ],
                required_count=project.overlap,
            )
            for p in ready
        ]
    )
    for pair, task in zip(ready, tasks, strict=True):
        pair.task = task
    EvaluationPair.objects.bulk_update(ready, ["task"])
    return len(tasks)


def validated_choice(choice: Any) -> str:
    if choice not in VoteChoice.values:
        raise InvalidVote("choose the left answer, the right answer, or a tie", field="choice")
    return str(choice)


def validated_reason(reason: Any) -> str:
    if reason is None:
        return ""
    if not isinstance(reason, str):
        raise InvalidVote("the reason is text", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidVote(f"the reason holds at most {MAX_REASON} characters", field="reason")
    return reason


def evaluation_vote_store(
    *,
    assignment: Assignment,
    author: User,
    choice: Any,
    reason: Any,
    seconds: Any,
    version: GuidelineVersion | None,
    previous: EvaluationVote | None = None,
) -> EvaluationVote:
    """Keep a vote (a labeler's, or a reviewer's edit as a new revision over `previous`)."""
    choice, reason = validated_choice(choice), validated_reason(reason).strip()
    if previous is not None:
        EvaluationVote.objects.filter(pk=previous.pk).update(is_current=False)
    return EvaluationVote.objects.create(
        assignment=assignment,
        task=assignment.task,
        author=author,
        guideline_version=version,
        revision=previous.revision + 1 if previous else 1,
        previous=previous,
        choice=choice,
        reason=reason,
        seconds=seconds_on_task(seconds),
    )


def _evaluation_assignment(assignment_id: int, labeler: User) -> Assignment:
    assignment = locked_assignment(assignment_id, labeler)
    if assignment.task.kind != TaskKind.EVALUATION:
        raise WrongKind(f"this is a {assignment.task.kind} task, not an evaluation task", field="kind")
    return assignment


@transaction.atomic
def evaluation_vote_submit(
    *, assignment_id: int, labeler: User, choice: Any, reason: Any = "", seconds: Any = 0.0
) -> tuple[EvaluationVote, bool]:
    """Record a labeler's blind vote; a retried submit returns the first vote and counts once."""
    assignment = _evaluation_assignment(assignment_id, labeler)
    if assignment.state == Assignment.State.SUBMITTED:
        return EvaluationVote.objects.get(assignment=assignment, revision=1), False
    require_live(assignment)
    vote = evaluation_vote_store(
        assignment=assignment,
        author=labeler,
        choice=choice,
        reason=reason,
        seconds=seconds,
        version=labeler_guideline_version(labeler, assignment.task),
    )
    assignment_complete(assignment)
    EvaluationDraft.objects.filter(assignment=assignment).delete()
    return vote, True


@transaction.atomic
def evaluation_draft_save(
    *, assignment_id: int, labeler: User, choice: Any = "", reason: Any = "", seconds: Any = 0.0
) -> EvaluationDraft:
    """Keep a vote in progress (no choice yet is fine); each save replaces the last, the submit clears it."""
    assignment = _evaluation_assignment(assignment_id, labeler)
    require_live(assignment)
    draft, _ = EvaluationDraft.objects.get_or_create(assignment=assignment)
    draft.choice = "" if choice in (None, "") else validated_choice(choice)
    draft.reason = validated_reason(reason)
    draft.seconds = seconds_on_task(seconds)
    draft.save()
    return draft
