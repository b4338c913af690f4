"""Who may do what in a project. Site staff act as admins of every project."""

from django.contrib.auth.models import AbstractBaseUser

from config.errors import NotAllowed, NotFound
from labeling.models import Membership, Project, Role

RANK = {Role.LABELER: 1, Role.REVIEWER: 2, Role.ADMIN: 3}


def project_role(*, user: AbstractBaseUser, project: Project) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Role.ADMIN
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


def require_role(*, user: AbstractBaseUser, project: Project, role: str) -> str:
    """Raise unless `user` holds `role` or a higher one in `project`; non-members get a 404."""
    held = project_role(user=user, project=project)
    if held is None:
        raise NotFound("no such project")
    if RANK[held] < RANK[role]:
        raise NotAllowed(f"this needs the {role} role in the project")
    return held
