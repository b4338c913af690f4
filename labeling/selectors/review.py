"""What reviewers read: the queue of submitted work and every submission of a task."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet

from labeling.models import (
    Assignment,
    Demonstration,
    EvaluationVote,
    Project,
    Ranking,
    Review,
    Task,
    TaskKind,
)


def review_latest_verdicts(*, assignment_ids: list[int]) -> dict[int, str]:
    latest: dict[int, str] = {}
    for assignment_id, verdict in (
        Review.objects.filter(assignment_id__in=assignment_ids)
        .order_by("created_at", "id")
        .values_list("assignment_id", "verdict")
    ):
        latest[assignment_id] = verdict
    return latest


@dataclass
class QueueRow:
    task: Task
    submissions: int
    pending: int
    last_submitted_at: datetime


def submissions_to_review(
    *, project: Project, pending_only: bool = True, offset: int = 0, limit: int = 50
) -> tuple[list[QueueRow], bool]:
    """Tasks with submitted work, those with unreviewed submissions first; and whether more follow."""
    reviewed = Exists(Review.objects.filter(assignment=OuterRef("pk")))
    grouped = (
        Assignment.objects.filter(task__project=project, state=Assignment.State.SUBMITTED)
        .annotate(reviewed=reviewed)
        .values("task_id")
        .annotate(
            submissions=Count("id"),
            pending=Count("id", filter=Q(reviewed=False)),
            last=Max("submitted_at"),
        )
    )
    if pending_only:
        grouped = grouped.filter(pending__gt=0)
    page = list(grouped.order_by("-last", "task_id")[offset : offset + limit + 1])
    more = len(page) > limit
    page = page[:limit]
    tasks = Task.objects.select_related("prompt").in_bulk([row["task_id"] for row in page])
    rows = [
        QueueRow(
            task=tasks[row["task_id"]],
            submissions=row["submissions"],
            pending=row["pending"],
            last_submitted_at=row["last"],
        )
        for row in page
    ]
    return rows, more


@dataclass
class Submission:
    """One labeler's submitted work on a task, as a reviewer sees it."""

    assignment: Assignment
    current: Ranking | Demonstration | EvaluationVote
    original: Ranking | Demonstration | EvaluationVote
    reviews: list[Review] = field(default_factory=list)

    @property
    def verdict(self) -> str | None:
        return self.reviews[-1].verdict if self.reviews else None

    @property
    def edited(self) -> bool:
        return self.current.pk != self.original.pk


def task_submissions(*, task: Task) -> list[Submission]:
    """Every submitted assignment of a task with its current and original revision and its reviews."""
    assignments = list(
        Assignment.objects.filter(task=task, state=Assignment.State.SUBMITTED)
        .select_related("labeler")
        .order_by("submitted_at", "id")
    )
    if not assignments:
        return []
    revisions: QuerySet[Ranking] | QuerySet[Demonstration] | QuerySet[EvaluationVote]
    if task.kind == TaskKind.RANKING:
        revisions = Ranking.objects.filter(task=task).prefetch_related("ratings")
    elif task.kind == TaskKind.EVALUATION:
        revisions = EvaluationVote.objects.filter(task=task)
    else:
        revisions = Demonstration.objects.filter(task=task)
    revisions = revisions.select_related("author", "guideline_version").order_by("revision")
    current: dict[int, Any] = {}
    original: dict[int, Any] = {}
    for annotation in revisions:
        original.setdefault(annotation.assignment_id, annotation)
        if annotation.is_current:
            current[annotation.assignment_id] = annotation
    reviews: dict[int, list[Review]] = {}
    for review in (
        Review.objects.filter(assignment__in=assignments)
        .select_related("reviewer")
        .order_by("created_at", "id")
    ):
        reviews.setdefault(review.assignment_id, []).append(review)
    return [
        Submission(
            assignment=a,
            current=current[a.pk],
            original=original[a.pk],
            reviews=reviews.get(a.pk, []),
        )
        for a in assignments
        if a.pk in current
    ]
