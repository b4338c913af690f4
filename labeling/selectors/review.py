"""What reviewers read: the queue of submitted work and every submission of a task."""

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

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
from labeling.rankings import PairCounts, rankings_agreement


def review_latest_verdicts(*, assignment_ids: list[int]) -> dict[int, str]:
    latest: dict[int, str] = {}
    for assignment_id, verdict in (
        Review.objects.filter(assignment_id__in=assignment_ids)
        .order_by("created_at", "id")
        .values_list("assignment_id", "verdict")
    ):
        latest[assignment_id] = verdict
    return latest


def review_waiting(*, project_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Project id → (tasks, submissions) waiting for review: submitted work no reviewer has judged yet,
    and the tasks it belongs to. The home page and the review queue both count these."""
    counts = (
        Assignment.objects.filter(task__project_id__in=project_ids, state=Assignment.State.SUBMITTED)
        .filter(~Exists(Review.objects.filter(assignment=OuterRef("pk"))))
        .values("task__project_id")
        .annotate(submissions=Count("id"), tasks=Count("task_id", distinct=True))
    )
    return {row["task__project_id"]: (row["tasks"], row["submissions"]) for row in counts}


@dataclass(frozen=True)
class QueueFilters:
    """What a reviewer narrows the queue to. `max_agreement` keeps tasks whose labelers agree on at most
    that share of answer pairs (tasks with fewer than two rankings have no agreement and drop out)."""

    pending_only: bool = True
    labeler_id: int | None = None
    kind: str = ""
    max_agreement: float | None = None
    since: date | None = None
    until: date | None = None


@dataclass
class QueueRow:
    task: Task
    submissions: int
    pending: int
    last_submitted_at: datetime
    labelers: list[str] = field(default_factory=list)
    agreement: PairCounts | None = None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _queue_groups(project: Project, filters: QueueFilters) -> QuerySet[Any]:
    """Per task with submitted work (and the filters' kind, labeler and dates): how many submissions,
    how many not reviewed yet, the last submission; newest first."""
    submitted = Assignment.objects.filter(task__project=project, state=Assignment.State.SUBMITTED)
    if filters.kind:
        submitted = submitted.filter(task__kind=filters.kind)
    if filters.labeler_id is not None:
        theirs = Assignment.objects.filter(
            task__project=project, labeler_id=filters.labeler_id, state=Assignment.State.SUBMITTED
        )
        submitted = submitted.filter(task_id__in=theirs.values("task_id"))
    grouped = (
        submitted.annotate(reviewed=Exists(Review.objects.filter(assignment=OuterRef("pk"))))
        .values("task_id")
        .annotate(
            submissions=Count("id"),
            pending=Count("id", filter=Q(reviewed=False)),
            last=Max("submitted_at"),
        )
    )
    if filters.pending_only:
        grouped = grouped.filter(pending__gt=0)
    if filters.since is not None:
        grouped = grouped.filter(last__gte=_day_start(filters.since))
    if filters.until is not None:
        grouped = grouped.filter(last__lt=_day_start(filters.until + timedelta(days=1)))
    return grouped.order_by("-last", "task_id")


def task_agreements(*, task_ids: list[int]) -> dict[int, PairCounts]:
    """Task id → answer pairs its labelers order alike or not, over their own first rankings (tasks
    with fewer than two rankings that order something are absent)."""
    by_task: dict[int, list[list[list[int]]]] = {}
    for task_id, tiers in Ranking.objects.filter(
        task_id__in=task_ids, revision=1, all_bad=False, assignment__state=Assignment.State.SUBMITTED
    ).values_list("task_id", "tiers"):
        by_task.setdefault(task_id, []).append(tiers)
    return {task_id: rankings_agreement(r) for task_id, r in by_task.items() if len(r) >= 2}


def _within(agreement: PairCounts | None, filters: QueueFilters) -> bool:
    if filters.max_agreement is None:
        return True
    return agreement is not None and agreement.share is not None and agreement.share <= filters.max_agreement


def submissions_to_review(
    *, project: Project, filters: QueueFilters = QueueFilters(), offset: int = 0, limit: int = 50
) -> tuple[list[QueueRow], bool]:
    """Tasks with submitted work, newest first, as the filters narrow them; and whether more follow."""
    grouped = _queue_groups(project, filters)
    if filters.max_agreement is None:
        page = list(grouped[offset : offset + limit + 1])
    else:  # agreement is worked out from the rankings themselves, so the filter runs here
        rows = list(grouped)
        agreements = task_agreements(task_ids=[r["task_id"] for r in rows])
        kept = [r for r in rows if _within(agreements.get(r["task_id"]), filters)]
        page = kept[offset : offset + limit + 1]
    more = len(page) > limit
    page = page[:limit]
    ids = [row["task_id"] for row in page]
    tasks = Task.objects.select_related("prompt").in_bulk(ids)
    agreements = task_agreements(task_ids=ids)
    labelers: dict[int, list[str]] = {}
    for task_id, username in (
        Assignment.objects.filter(task_id__in=ids, state=Assignment.State.SUBMITTED)
        .order_by("submitted_at", "id")
        .values_list("task_id", "labeler__username")
    ):
        labelers.setdefault(task_id, []).append(username)
    return [
        QueueRow(
            task=tasks[row["task_id"]],
            submissions=row["submissions"],
            pending=row["pending"],
            last_submitted_at=row["last"],
            labelers=labelers.get(row["task_id"], []),
            agreement=agreements.get(row["task_id"]),
        )
        for row in page
    ], more


def next_task_to_review(*, project: Project, filters: QueueFilters, after: int | None = None) -> int | None:
    """The task after `after` in the queue of work waiting for review (the filters kept), or the first
    one when nothing follows it; None when nothing else waits."""
    grouped = _queue_groups(project, replace(filters, pending_only=True))
    if filters.max_agreement is not None:
        rows = list(grouped.values_list("task_id", flat=True))
        agreements = task_agreements(task_ids=rows)
        order = [task_id for task_id in rows if _within(agreements.get(task_id), filters)]
    else:
        order = list(grouped.values_list("task_id", flat=True)[:1000])
    others = [task_id for task_id in order if task_id != after]
    if after is None or not others:
        return others[0] if others else None
    if after in order:
        following = order[order.index(after) + 1 :]
        return following[0] if following else others[0]
    last = Assignment.objects.filter(task_id=after, state=Assignment.State.SUBMITTED).aggregate(
        last=Max("submitted_at")
    )["last"]
    if last is None:
        return others[0]
    later = grouped.filter(Q(last__lt=last) | Q(last=last, task_id__gt=after)).exclude(task_id=after)
    if filters.max_agreement is not None:
        later_ids = set(later.values_list("task_id", flat=True))
        return next((t for t in others if t in later_ids), others[0])
    following_id = later.values_list("task_id", flat=True).first()
    return following_id if following_id is not None else others[0]


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
