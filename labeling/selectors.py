from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Aggregate, Count, Exists, F, FloatField, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from config.errors import NotFound
from guidelines.models import Acknowledgement, GuidelineVersion
from labeling.models import (
    RATING_FLAGS,
    Assignment,
    Candidate,
    Demonstration,
    DemonstrationDraft,
    Membership,
    Project,
    Ranking,
    Review,
    Role,
    SearchCorpus,
    Task,
    TaskKind,
)
from labeling.permissions import RANK, require_role

_DONE_STATES = [Assignment.State.SUBMITTED, Assignment.State.SKIPPED]


def projects_for(*, user: AbstractBaseUser) -> QuerySet[Project]:
    projects = Project.objects.order_by("name")
    return projects if user.is_staff else projects.filter(memberships__user=user)


def assignment_payload(*, assignment: Assignment) -> dict[str, Any]:
    """What a labeler needs to work on an assignment: the conversation and, for rankings, the candidates."""
    task = assignment.task  # callers load it with its prompt (select_related("task__prompt"))
    candidates: list[dict[str, Any]] = []
    if task.candidate_ids:
        texts = dict(Candidate.objects.filter(pk__in=task.candidate_ids).values_list("id", "text"))
        candidates = [{"id": cid, "text": texts[cid]} for cid in task.candidate_ids]
    return {
        "id": assignment.pk,
        "state": assignment.state,
        "lease_expires_at": assignment.lease_expires_at,
        "task": {"id": task.pk, "kind": task.kind, "project": task.project_id},
        "prompt": {
            "id": task.prompt_id,
            "external_id": task.prompt.external_id,
            "messages": task.prompt.messages,
        },
        "candidates": candidates,
        "suggested_reply": task.prompt.metadata.get("suggested_reply", ""),
    }


def annotations_for(
    *, project: Project, labeler: AbstractBaseUser | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    """Current revision of every submission in the project (optionally one labeler's), newest first."""
    rankings = Ranking.objects.filter(task__project=project, is_current=True)
    demonstrations = Demonstration.objects.filter(task__project=project, is_current=True)
    if labeler is not None:
        rankings = rankings.filter(assignment__labeler=labeler)
        demonstrations = demonstrations.filter(assignment__labeler=labeler)
    rows: list[dict[str, Any]] = []
    if kind in (None, "ranking"):
        for r in rankings.select_related("assignment").prefetch_related("ratings"):
            rows.append(
                _annotation_row(r, "ranking")
                | {
                    "tiers": r.tiers,
                    "all_bad": r.all_bad,
                    "ratings": [_rating_row(x) for x in r.ratings.all()],
                }
            )
    if kind != "ranking":
        for d in demonstrations.select_related("assignment"):
            rows.append(
                _annotation_row(d, "demonstration")
                | {"messages": d.messages, "tools": d.tools, "pasted_chars": d.pasted_chars}
            )
    return sorted(rows, key=lambda row: row["created_at"], reverse=True)


def _annotation_row(annotation: Ranking | Demonstration, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "id": annotation.pk,
        "assignment": annotation.assignment_id,
        "task": annotation.task_id,
        "labeler": annotation.assignment.labeler_id,
        "author": annotation.author_id,
        "revision": annotation.revision,
        "guideline_version": annotation.guideline_version_id,
        "seconds": annotation.seconds,
        "created_at": annotation.created_at,
    }


def _rating_row(rating: Any) -> dict[str, Any]:
    return {"candidate": rating.candidate_id, "overall": rating.overall} | {
        f: getattr(rating, f) for f in RATING_FLAGS
    }


def project_progress(*, project: Project) -> dict[str, int]:
    return Task.objects.filter(project=project).aggregate(
        tasks=Count("id"),
        done=Count("id", filter=Q(status=Task.Status.DONE)),
        open=Count("id", filter=Q(status=Task.Status.OPEN)),
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


# --- web ---------------------------------------------------------------------------------------------


@dataclass
class ProjectOverview:
    """One project on a person's home page."""

    project: Project
    role: str
    waiting: int = 0
    live_assignment_id: int | None = None
    done_today: int = 0
    seconds_today: float = 0.0
    to_review: int = 0
    pending_version: GuidelineVersion | None = None
    acknowledged_version: GuidelineVersion | None = None


def _today_start() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def home_overview(*, user: AbstractBaseUser) -> list[ProjectOverview]:
    """Every project of `user` with the work waiting, what they did today and a guideline to acknowledge."""
    projects = list(projects_for(user=user).select_related("guideline"))
    if not projects:
        return []
    ids = [p.pk for p in projects]
    roles: dict[int, str] = {}
    if not user.is_staff:
        roles = dict(
            Membership.objects.filter(user=user, project_id__in=ids).values_list("project_id", "role")
        )
    rows = {p.pk: ProjectOverview(project=p, role=roles.get(p.pk, Role.ADMIN)) for p in projects}

    mine = Assignment.objects.filter(
        task=OuterRef("pk"), labeler=user, state__in=[Assignment.State.ACTIVE, *_DONE_STATES]
    )
    waiting = (
        Task.objects.filter(
            project_id__in=ids, status=Task.Status.OPEN, claimed_count__lt=F("required_count")
        )
        .filter(~Exists(mine))
        .values("project_id")
        .annotate(n=Count("id"))
    )
    for row in waiting:
        rows[row["project_id"]].waiting = row["n"]
    live = Assignment.objects.filter(
        labeler=user,
        task__project_id__in=ids,
        state=Assignment.State.ACTIVE,
        lease_expires_at__gt=timezone.now(),
    ).values_list("task__project_id", "id")
    for project_id, assignment_id in live:
        rows[project_id].live_assignment_id = assignment_id
    today = _today_start()
    done = (
        Assignment.objects.filter(
            labeler=user, task__project_id__in=ids, state=Assignment.State.SUBMITTED, submitted_at__gte=today
        )
        .values("task__project_id")
        .annotate(n=Count("id"))
    )
    for row in done:
        rows[row["task__project_id"]].done_today = row["n"]
    for model in (Ranking, Demonstration):
        spent = (
            model.objects.filter(author=user, revision=1, created_at__gte=today, task__project_id__in=ids)
            .values("task__project_id")
            .annotate(s=Sum("seconds"))
        )
        for row in spent:
            rows[row["task__project_id"]].seconds_today += row["s"] or 0.0

    reviewing = [pid for pid, row in rows.items() if RANK[row.role] >= RANK[Role.REVIEWER]]
    if reviewing:
        for row in (
            Assignment.objects.filter(task__project_id__in=reviewing, state=Assignment.State.SUBMITTED)
            .filter(~Exists(Review.objects.filter(assignment=OuterRef("pk"))))
            .values("task__project_id")
            .annotate(n=Count("id"))
        ):
            rows[row["task__project_id"]].to_review = row["n"]

    _attach_pending_guidelines(user, list(rows.values()))
    return list(rows.values())


def _attach_pending_guidelines(user: AbstractBaseUser, rows: list[ProjectOverview]) -> None:
    """Set the current version a person must acknowledge, and the last one they did, for the diff."""
    by_guideline = {row.project.guideline_id: row for row in rows}
    current = (
        GuidelineVersion.objects.filter(guideline_id__in=list(by_guideline))
        .order_by("guideline_id", "-number")
        .distinct("guideline_id")
        .select_related("author")
    )
    acknowledged: dict[int, tuple[int, int]] = {}
    for guideline_id, number, version_id in (
        Acknowledgement.objects.filter(user=user, version__guideline_id__in=list(by_guideline))
        .order_by("version__number")
        .values_list("version__guideline_id", "version__number", "version_id")
    ):
        acknowledged[guideline_id] = (number, version_id)
    earlier: list[int] = []
    for version in current:
        last = acknowledged.get(version.guideline_id)
        if last is not None and last[0] >= version.number:
            continue
        by_guideline[version.guideline_id].pending_version = version
        if last is not None:
            earlier.append(last[1])
    if earlier:
        for version in GuidelineVersion.objects.filter(pk__in=earlier):
            by_guideline[version.guideline_id].acknowledged_version = version


@dataclass
class WorkContext:
    """Everything a labeler's task page shows, read in a fixed number of queries."""

    assignment: Assignment
    task: Task
    project: Project
    role: str
    candidates: list[Candidate]
    draft: DemonstrationDraft | None
    guideline_version: GuidelineVersion | None


def work_context(*, assignment_id: int, user: AbstractBaseUser) -> WorkContext:
    """A labeler's own assignment; anyone else's is reported as missing."""
    assignment = (
        Assignment.objects.select_related("task__prompt", "task__project")
        .filter(pk=assignment_id, labeler_id=user.pk)
        .first()
    )
    if assignment is None:
        raise NotFound("no such assignment")
    task = assignment.task
    project = task.project
    role = require_role(user=user, project=project, role=Role.LABELER)
    candidates: list[Candidate] = []
    if task.candidate_ids:
        by_id = Candidate.objects.in_bulk(task.candidate_ids)
        candidates = [by_id[cid] for cid in task.candidate_ids if cid in by_id]
    draft = None
    version = None
    if task.kind != TaskKind.RANKING:
        draft = DemonstrationDraft.objects.filter(assignment=assignment).first()
        version = (
            GuidelineVersion.objects.filter(guideline_id=project.guideline_id).order_by("-number").first()
        )
    return WorkContext(
        assignment=assignment,
        task=task,
        project=project,
        role=role,
        candidates=candidates,
        draft=draft,
        guideline_version=version,
    )


@dataclass
class QueueRow:
    task: Task
    submissions: int
    pending: int
    last_submitted_at: datetime


def review_queue(
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
    current: Ranking | Demonstration
    original: Ranking | Demonstration
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
    model = Ranking if task.kind == TaskKind.RANKING else Demonstration
    revisions = (
        model.objects.filter(task=task).select_related("author", "guideline_version").order_by("revision")
    )
    if model is Ranking:
        revisions = revisions.prefetch_related("ratings")
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


class _Median(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


@dataclass
class LabelerStats:
    username: str
    labels: int = 0
    median_seconds: float = 0.0
    total_seconds: float = 0.0
    accepted: int = 0
    rejected: int = 0
    per_day: dict[date, int] = field(default_factory=dict)


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
    for row in (
        Assignment.objects.filter(
            task__project=project, state=Assignment.State.SUBMITTED, submitted_at__gte=since
        )
        .annotate(day=TruncDate("submitted_at"))
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
        labeler.labels = sum(n for n, _, _ in parts)
        labeler.total_seconds = sum(t or 0.0 for _, _, t in parts)
        # A weighted mean of per-kind medians: exact when a labeler works on one kind.
        labeler.median_seconds = sum(n * (m or 0.0) for n, m, _ in parts) / max(1, labeler.labels)
    for row in (
        Review.objects.filter(assignment__task__project=project)
        .values("assignment__labeler__username")
        .annotate(
            accepted=Count("id", filter=Q(verdict=Review.Verdict.ACCEPT)),
            rejected=Count("id", filter=Q(verdict=Review.Verdict.REJECT)),
        )
    ):
        labeler = of(row["assignment__labeler__username"])
        labeler.accepted, labeler.rejected = row["accepted"], row["rejected"]
    return Dashboard(
        by_kind=by_kind, days=day_list, labelers=sorted(stats.values(), key=lambda s: s.username)
    )


def corpora_for(*, project: Project) -> QuerySet[SearchCorpus]:
    return SearchCorpus.objects.filter(project=project).select_related("uploaded_by").order_by("-created_at")


def members_of(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")
