"""Registering a model with what it learned from: the lineage back to its labels."""

from pathlib import Path
from typing import Any

from django.db import transaction

from core.errors import DomainError, NotAllowed
from core.types import User
from curation.models import DatasetSnapshot
from labeling.access import require_role
from labeling.models import Project, Role
from registry.chat_templates import BUILTIN_TEMPLATES, TEMPLATE_FILE, chat_template_problem
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


def model_attach_chat_template(
    *, model: ModelVersion, user: User | None, builtin: str = "", template: str = ""
) -> ModelVersion:
    """Give a model a chat template (one of Coach's, or an uploaded one) as chat_template.jinja in its
    directory; refused unless SFT can mark its assistant turns. A shared model is site staff's."""
    if user is not None:
        if model.project is None:
            if not user.is_staff:
                raise NotAllowed("a model every project shares takes a chat template from site staff")
        else:
            require_role(user=user, project=model.project, role=Role.ADMIN)
    if bool(builtin) == bool(template.strip()):
        raise DomainError(f"give one of builtin ({sorted(BUILTIN_TEMPLATES)}) or template", field="template")
    if builtin and builtin not in BUILTIN_TEMPLATES:
        raise DomainError(f"builtin is one of {sorted(BUILTIN_TEMPLATES)}", field="builtin")
    text = BUILTIN_TEMPLATES[builtin] if builtin else template
    name = builtin or "uploaded"
    if problem := chat_template_problem(model.path, template=text, name=name):
        raise DomainError(problem, field="builtin" if builtin else "template")
    (Path(model.path) / TEMPLATE_FILE).write_text(text)
    metrics = {k: v for k, v in model.metrics.items() if k != "chat_template_problem"}
    ModelVersion.objects.filter(pk=model.pk).update(metrics={**metrics, "chat_template": name})
    model.refresh_from_db()
    return model
