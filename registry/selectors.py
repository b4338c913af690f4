"""Reads of the model registry."""

from django.db.models import Q, QuerySet

from core.errors import NotFound
from registry.models import ModelServer, ModelVersion


def models_for(*, project_id: int) -> QuerySet[ModelVersion]:
    """The project's models and the base models every project may use, newest first."""
    return (
        ModelVersion.objects.filter(Q(project_id=project_id) | Q(project__isnull=True))
        .select_related("parent")
        .order_by("-created_at", "-id")
    )


def model_named(ref: str) -> ModelVersion:
    """A model version by id or name, for commands."""
    found = (
        ModelVersion.objects.filter(pk=int(ref)) if ref.isdigit() else ModelVersion.objects.filter(name=ref)
    )
    model = found.first()
    if model is None:
        raise NotFound(f"there is no model {ref!r} (see the models page, or register one)")
    return model


# --- model servers ---------------------------------------------------------------------------------------


def server_for(*, model_version: ModelVersion, engine: str = "") -> ModelServer | None:
    """A server whose last check found it answering for the version (of the engine named), freshest first."""
    servers = ModelServer.objects.filter(model_version=model_version, status=ModelServer.Status.HEALTHY)
    if engine:
        servers = servers.filter(engine=engine)
    return servers.exclude(url="").order_by("-checked_at", "-id").first()


def servers_for(*, project_id: int) -> QuerySet[ModelServer]:
    """The servers of the models a project sees (its own and the shared base models): every server the
    project started or registered, and the live ones of other projects, newest first."""
    return (
        ModelServer.objects.filter(
            Q(model_version__project_id=project_id) | Q(model_version__project__isnull=True)
        )
        .filter(Q(project_id=project_id) | ~Q(status=ModelServer.Status.STOPPED))
        .select_related("model_version", "created_by")
        .order_by("-created_at", "-id")
    )
