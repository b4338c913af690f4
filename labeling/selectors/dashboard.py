"""The admin dashboard: tasks per kind, labels per day and time on task per labeler."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Aggregate, Count, FloatField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from labeling.models import (
    Assignment,
    Demonstration,
    Project,
    Ranking,
    Review,
    Task,
)


class _Median(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


@dataclass
class LabelerStats:
    """One labeler's work. Submitted = labels + rejected; labels = accepted + unreviewed (an edit by a
    reviewer counts as accepted): the same "labels" the tasks count toward their overlap."""

    username: str
    submitted: int = 0
    labels: int = 0
    accepted: int = 0
    rejected: int = 0
    median_seconds: float = 0.0
    total_seconds: float = 0.0
    per_day: dict[date, int] = field(default_factory=dict)  # labels, by the day they were submitted

    @property
    def unreviewed(self) -> int:
        return self.labels - self.accepted


@dataclass
class Dashboard:
    by_kind: list[dict[str, Any]]
    days: list[date]
    labelers: list[LabelerStats]


def project_dashboard(*, project: Project, days: int = 14) -> Dashboard:
    """Tasks done and left per kind, and per labeler: labels per day, time on task, review outcomes."""
    by_kind = list(
        Task.objects.filter(project=project)
        .values("kind")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(status=Task.Status.DONE)),
            closed=Count("id", filter=Q(status=Task.Status.CLOSED)),
            labels=Sum("completed_count"),
            wanted=Sum("required_count"),
        )
        .order_by("kind")
    )
    for row in by_kind:
        row["left"] = row["total"] - row["done"] - row["closed"]
    first_day = timezone.localdate() - timedelta(days=days - 1)
    day_list = [first_day + timedelta(days=i) for i in range(days)]
    stats: dict[str, LabelerStats] = {}

    def of(username: str) -> LabelerStats:
        return stats.setdefault(username, LabelerStats(username=username))

    since = timezone.make_aware(datetime.combine(first_day, time.min))
    latest = Review.objects.filter(assignment=OuterRef("pk")).order_by("-created_at", "-id").values("verdict")
    verdicts = (
        Assignment.objects.filter(task__project=project, state=Assignment.State.SUBMITTED)
        .annotate(verdict=Subquery(latest[:1]))
        .values("labeler__username")
        .annotate(
            submitted=Count("id"),
            rejected=Count("id", filter=Q(verdict=Review.Verdict.REJECT)),
            accepted=Count("id", filter=Q(verdict__in=[Review.Verdict.ACCEPT, Review.Verdict.EDIT])),
        )
    )
    for row in verdicts:
        labeler = of(row["labeler__username"])
        labeler.submitted, labeler.rejected = row["submitted"], row["rejected"]
        labeler.accepted, labeler.labels = row["accepted"], row["submitted"] - row["rejected"]
    for row in (
        Assignment.objects.filter(
            task__project=project, state=Assignment.State.SUBMITTED, submitted_at__gte=since
        )
        .annotate(verdict=Coalesce(Subquery(latest[:1]), Value("")), day=TruncDate("submitted_at"))
        .exclude(verdict=Review.Verdict.REJECT)
        .values("labeler__username", "day")
        .annotate(n=Count("id"))
    ):
        of(row["labeler__username"]).per_day[row["day"]] = row["n"]
    timing: dict[str, list[tuple[int, float, float]]] = {}
    for model in (Ranking, Demonstration):
        for row in (
            model.objects.filter(task__project=project, revision=1)
            .values("author__username")
            .annotate(n=Count("id"), median=_Median("seconds"), total=Sum("seconds"))
        ):
            timing.setdefault(row["author__username"], []).append((row["n"], row["median"], row["total"]))
    for username, parts in timing.items():
        labeler = of(username)
        timed = sum(n for n, _, _ in parts)
        labeler.total_seconds = sum(t or 0.0 for _, _, t in parts)
        # A weighted mean of per-kind medians: exact when a labeler works on one kind.
        labeler.median_seconds = sum(n * (m or 0.0) for n, m, _ in parts) / max(1, timed)
    return Dashboard(
        by_kind=by_kind, days=day_list, labelers=sorted(stats.values(), key=lambda s: s.username)
    )
