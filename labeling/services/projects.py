"""Projects and their members."""

from typing import Any

from django.db import transaction
from django.db.models import F

from core.errors import Conflict, DomainError
from core.types import User
from guidelines.services import guideline_create
from labeling.models import (
    Assignment,
    Membership,
    Project,
    Role,
    Task,
    TaskKind,
)


@transaction.atomic
def project_create(
    *,
    name: str,
    task_kinds: list[str],
    created_by: User,
    k: int = 4,
    overlap: int = 1,
    lease_seconds: int = 1800,
    description: str = "",
    allow_self_review: bool = False,
) -> Project:
    _check_project_settings(task_kinds=task_kinds, k=k, overlap=overlap, lease_seconds=lease_seconds)
    if Project.objects.filter(name=name).exists():
        raise Conflict(f"a project named {name!r} exists", field="name")
    project = Project.objects.create(
        name=name,
        description=description,
        task_kinds=list(dict.fromkeys(task_kinds)),
        k=k,
        overlap=overlap,
        lease_seconds=lease_seconds,
        allow_self_review=allow_self_review,
        guideline=guideline_create(title=f"{name} guidelines"),
    )
    Membership.objects.create(project=project, user=created_by, role=Role.ADMIN)
    return project


def _check_project_settings(*, task_kinds: list[str], k: int, overlap: int, lease_seconds: int) -> None:
    if not task_kinds:
        raise DomainError("choose at least one task kind", field="task_kinds")
    if unknown := set(task_kinds) - set(TaskKind.values):
        raise DomainError(f"unknown task kinds {sorted(unknown)}", field="task_kinds")
    if not 2 <= k <= 9:
        raise DomainError("K must be between 2 and 9", field="k")
    if overlap < 1:
        raise DomainError("overlap must be at least 1", field="overlap")
    if lease_seconds < 30:
        raise DomainError("a lease lasts at least 30 seconds", field="lease_seconds")


@transaction.atomic
def project_update(*, project: Project, **changes: Any) -> Project:
    allowed = {"description", "task_kinds", "k", "overlap", "lease_seconds", "allow_self_review"}
    if unknown := set(changes) - allowed:
        raise DomainError(f"cannot change {sorted(unknown)}", field=sorted(unknown)[0])
    merged = {f: changes.get(f, getattr(project, f)) for f in ("task_kinds", "k", "overlap", "lease_seconds")}
    _check_project_settings(**merged)
    for name, value in changes.items():
        setattr(project, name, value)
    project.save(update_fields=list(changes) or None)
    return project


def membership_set(*, project: Project, user: User, role: str) -> Membership:
    if role not in Role.values:
        raise DomainError(f"unknown role {role!r}", field="role")
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


@transaction.atomic
def membership_remove(*, project: Project, user: User) -> int:
    """Remove a member; their live leases go back to the pool at once. Returns how many were released."""
    Membership.objects.filter(project=project, user=user).delete()
    live = list(
        Assignment.objects.select_for_update()
        .filter(labeler=user, task__project=project, state=Assignment.State.ACTIVE)
        .values_list("pk", "task_id")
    )
    Assignment.objects.filter(pk__in=[pk for pk, _ in live]).update(state=Assignment.State.RELEASED)
    for task_id in sorted(task for _, task in live):
        Task.objects.filter(pk=task_id).update(claimed_count=F("claimed_count") - 1)
    return len(live)
