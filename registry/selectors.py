"""Reads of the model registry."""

from django.db.models import Q, QuerySet

from core.errors import NotFound
from registry.models import ModelVersion


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
