"""Registering a model with what it learned from: the lineage back to its labels."""

from pathlib import Path
from typing import Any

from django.db import transaction

from core.errors import DomainError
from core.types import User
from curation.models import DatasetSnapshot
from labeling.models import Project
from registry.models import ModelVersion
from registry.services import model_register
from trainer_bridge.models import ModelOrigin


@transaction.atomic
def model_register_with_lineage(
    *,
    path: str | Path,
    name: str = "",
    kind: str = ModelVersion.Kind.BASE,
    project: Project | None = None,
    parent: ModelVersion | None = None,
    snapshot: DatasetSnapshot | None = None,
    metrics: dict[str, Any] | None = None,
    description: str = "",
    created_by: User | None = None,
) -> ModelVersion:
    """Register a model directory; one trained elsewhere names its parent and the snapshot it learned from."""
    if kind != ModelVersion.Kind.BASE and (parent is None or snapshot is None):
        raise DomainError(
            f"a {kind} model names the model it was trained from and the snapshot it was trained on",
            field="parent",
        )
    if snapshot is not None and project is None:
        project = snapshot.project
    if snapshot is not None and project is not None and snapshot.project_id != project.pk:
        raise DomainError("the snapshot belongs to another project", field="snapshot")
    model = model_register(
        path=path,
        name=name,
        kind=kind,
        project_id=project.pk if project is not None else None,
        parent=parent,
        metrics=metrics,
        description=description,
        created_by=created_by,
    )
    if snapshot is not None:
        ModelOrigin.objects.create(model=model, snapshot=snapshot)
    return model
