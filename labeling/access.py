"""Who may do what in a project, checked in one place. Site staff act as admins of every project.

Every page, API view and command finds its project through `project_for` (or `require_role` once it
holds one): non-members get a 404, lower roles a 403.
"""

from typing import Any

from core.errors import NotAllowed, NotFound
from core.types import AnyUser
from labeling.models import Assignment, Membership, Project, Role

RANK: dict[str, int] = {Role.LABELER: 1, Role.REVIEWER: 2, Role.ADMIN: 3}


def project_role(*, user: AnyUser, project: Project) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Role.ADMIN
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


def require_role(*, user: AnyUser, project: Project, role: str) -> str:
    """Raise unless `user` holds `role` or a higher one in `project`; non-members get a 404."""
    held = project_role(user=user, project=project)
    if held is None:
        raise NotFound("no such project")
    if RANK[held] < RANK[role]:
        raise NotAllowed(f"this needs the {role} role in the project")
    return held


def assignment_role(*, user: AnyUser, assignment: Assignment) -> str:
    """Who may touch an assignment: its labeler while a member of the project, else a reviewer of it.

    Every path (pages, API, services) asks here, so removing a member ends their access at once.
    """
    needed = Role.LABELER if assignment.labeler_id == user.pk else Role.REVIEWER
    return require_role(user=user, project=assignment.task.project, role=needed)


def has_role(held: str, role: str) -> bool:
    """Whether a held role is `role` or above it."""
    return RANK[held] >= RANK[role]


def project_for(user: AnyUser, project_id: int, role: str) -> tuple[Project, str]:
    """The project, if the user holds `role` in it, and the role they hold."""
    project = Project.objects.select_related("guideline").filter(pk=project_id).first()
    if project is None:
        raise NotFound("no such project")
    return project, require_role(user=user, project=project, role=role)


def project_nav(project: Project, role: str, active: str) -> dict[str, Any]:
    """Context for the project tabs; a tab shows only to the roles that may open it."""
    return {"project": project, "role": role, "active": active, "can": {r: has_role(role, r) for r in RANK}}


def project_named(ref: str) -> Project:
    """A project by id or name, for commands."""
    found = Project.objects.filter(pk=int(ref)) if ref.isdigit() else Project.objects.filter(name=ref)
    project = found.first()
    if project is None:
        raise NotFound(f"there is no project {ref!r}")
    return project
