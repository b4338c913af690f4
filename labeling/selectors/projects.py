"""Reads about projects: who is in them, how far they are, what each person has waiting."""

from dataclasses import dataclass
from datetime import datetime, time

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from core.types import User
from guidelines.models import Acknowledgement, GuidelineVersion
from labeling.access import RANK
from labeling.models import (
    Assignment,
    Demonstration,
    Membership,
    Project,
    Ranking,
    Role,
    SearchCorpus,
    Task,
)
from labeling.selectors.review import review_waiting

_DONE_STATES = [Assignment.State.SUBMITTED, Assignment.State.SKIPPED]


def projects_for(*, user: User) -> QuerySet[Project]:
    projects = Project.objects.order_by("name")
    return projects if user.is_staff else projects.filter(memberships__user=user)


def project_progress(*, project: Project) -> dict[str, int]:
    return Task.objects.filter(project=project).aggregate(
        tasks=Count("id"),
        done=Count("id", filter=Q(status=Task.Status.DONE)),
        open=Count("id", filter=Q(status=Task.Status.OPEN)),
    )


@dataclass
class ProjectOverview:
    """One project on a person's home page."""

    project: Project
    role: str
    waiting: int = 0
    live_assignment_id: int | None = None
    done_today: int = 0
    seconds_today: float = 0.0
    to_review: int = 0  # submissions waiting for review
    to_review_tasks: int = 0  # the tasks they belong to (the rows of the review queue)
    pending_version: GuidelineVersion | None = None
    acknowledged_version: GuidelineVersion | None = None


def _today_start() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def home_overview(*, user: User) -> list[ProjectOverview]:
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
        for project_id, (tasks, submissions) in review_waiting(project_ids=reviewing).items():
            rows[project_id].to_review, rows[project_id].to_review_tasks = submissions, tasks

    _attach_pending_guidelines(user, list(rows.values()))
    return list(rows.values())


def _attach_pending_guidelines(user: User, rows: list[ProjectOverview]) -> None:
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


def corpora_for(*, project: Project) -> QuerySet[SearchCorpus]:
    return SearchCorpus.objects.filter(project=project).select_related("uploaded_by").order_by("-created_at")


def members_of(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")
