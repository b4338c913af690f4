"""Reads of blind A/B evaluations: the votes that count, and how far the planned comparisons have got."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from labeling.models import Assignment, EvaluationPair, EvaluationVote, Project, Prompt, Review

# What a vote row holds: enough for the leaderboard and for the export of the votes.
VOTE_FIELDS = (
    "id",
    "choice",
    "reason",
    "revision",
    "created_at",
    "task_id",
    "task__candidate_ids",
    "task__prompt_id",
    "task__prompt__external_id",
    "task__prompt__source",
    "task__prompt__metadata",
    "task__evaluation_pair__left_version_id",
    "task__evaluation_pair__right_version_id",
    "assignment__labeler__username",
)


def evaluation_votes(*, project: Project, accepted_only: bool = False) -> QuerySet[EvaluationVote]:
    """The current revision of every submitted vote whose latest review does not reject it (with
    `accepted_only`, only those a reviewer accepted or edited), oldest first; `.values(*VOTE_FIELDS)`
    gives what the leaderboard and the export read."""
    latest = Review.objects.filter(assignment=OuterRef("assignment_id")).order_by("-created_at", "-id")
    votes = EvaluationVote.objects.filter(
        task__project=project,
        is_current=True,
        assignment__state=Assignment.State.SUBMITTED,
        task__evaluation_pair__isnull=False,
    ).annotate(verdict=Subquery(latest.values("verdict")[:1]))
    accepted = Q(verdict__in=[Review.Verdict.ACCEPT, Review.Verdict.EDIT])
    votes = votes.filter(accepted if accepted_only else accepted | Q(verdict__isnull=True))
    return votes.order_by("id")


def prompt_group(row: dict[str, Any], by: str) -> str:
    """The group a vote's prompt falls in: its source, or the value of a metadata key (e.g. category)."""
    if by == "source":
        return row["task__prompt__source"] or ""
    value = (row["task__prompt__metadata"] or {}).get(by)
    return "" if value is None else str(value)[:200]


def evaluation_group_keys(*, project: Project) -> list[str]:
    """What the leaderboard can break results down by: the source, and the metadata keys that evaluation
    prompts carry (task_kind aside)."""
    keys: set[str] = set()
    prompts = Prompt.objects.filter(project=project, evaluation_pairs__isnull=False).distinct()
    for metadata in prompts.values_list("metadata", flat=True)[:5000]:
        if isinstance(metadata, dict):
            keys.update(
                k for k, v in metadata.items() if isinstance(v, str | int | bool) and k != "task_kind"
            )
    return ["source", *sorted(keys)[:50]]


@dataclass(frozen=True)
class EvaluationProgress:
    pairs: int  # comparisons planned
    waiting: int  # planned comparisons still missing an answer from one of their versions
    tasks: int
    tasks_done: int
    votes: int


def evaluation_progress(*, project: Project) -> EvaluationProgress:
    pairs = EvaluationPair.objects.filter(project=project).aggregate(
        pairs=Count("id"),
        waiting=Count("id", filter=Q(task__isnull=True)),
        done=Count("id", filter=Q(task__status="done")),
    )
    votes = EvaluationVote.objects.filter(
        task__project=project, is_current=True, assignment__state=Assignment.State.SUBMITTED
    ).count()
    return EvaluationProgress(
        pairs=pairs["pairs"],
        waiting=pairs["waiting"],
        tasks=pairs["pairs"] - pairs["waiting"],
        tasks_done=pairs["done"],
        votes=votes,
    )
