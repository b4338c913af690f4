"""The model registry: register a model directory, and walk a model's lineage back to its labels."""

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Q, QuerySet

from core.errors import Conflict, DomainError
from curation.models import DatasetSnapshot, SnapshotRow
from labeling.models import Project
from trainer_bridge.models import ModelVersion

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


class ModelPathInvalid(DomainError):
    code = "model_path_invalid"


def check_model_dir(path: str | Path) -> Path:
    """A local transformers model directory (config, weights, tokenizer), resolved; read without torch."""
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_dir():
        raise ModelPathInvalid(f"{resolved} is not a directory", field="path")
    missing = []
    if not (resolved / "config.json").is_file():
        missing.append("config.json")
    if not any((resolved / name).is_file() for name in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    if not any((resolved / name).is_file() for name in TOKENIZER_FILES):
        missing.append(" or ".join(TOKENIZER_FILES))
    if missing:
        raise ModelPathInvalid(f"{resolved} lacks {', '.join(missing)}", field="path")
    return resolved


@transaction.atomic
def model_register(
    *,
    path: str | Path,
    name: str = "",
    kind: str = ModelVersion.Kind.BASE,
    project: Project | None = None,
    parent: ModelVersion | None = None,
    snapshot: DatasetSnapshot | None = None,
    metrics: dict[str, Any] | None = None,
    description: str = "",
    created_by: AbstractBaseUser | None = None,
) -> ModelVersion:
    """Add a model directory to the registry; a trained model names its parent and its snapshot."""
    resolved = check_model_dir(path)
    if kind not in ModelVersion.Kind.values:
        raise DomainError(f"kind is one of {ModelVersion.Kind.values}", field="kind")
    if kind != ModelVersion.Kind.BASE and (parent is None or snapshot is None):
        raise DomainError(
            f"a {kind} model names the model it was trained from and the snapshot it was trained on",
            field="parent",
        )
    if snapshot is not None and project is None:
        project = snapshot.project
    if snapshot is not None and snapshot.project_id != project.pk:
        raise DomainError("the snapshot belongs to another project", field="snapshot")
    name = name.strip() or (resolved.parent.name if resolved.name == "final" else resolved.name)
    if ModelVersion.objects.filter(name=name).exists():
        raise Conflict(f"a model named {name!r} is registered", field="name")
    if metrics is None and (resolved / "metrics.json").is_file():
        metrics = json.loads((resolved / "metrics.json").read_text())
    return ModelVersion.objects.create(
        name=name,
        kind=kind,
        path=str(resolved),
        project=project,
        parent=parent,
        snapshot=snapshot,
        metrics=metrics or {},
        description=description,
        created_by=created_by,
    )


# --- reads ---------------------------------------------------------------------------------------


def models_for(*, project: Project) -> QuerySet[ModelVersion]:
    """The project's models and the base models every project may use, newest first."""
    return (
        ModelVersion.objects.filter(Q(project=project) | Q(project__isnull=True))
        .select_related("parent", "snapshot", "training_job")
        .order_by("-created_at", "-id")
    )


def model_lineage(*, model: ModelVersion) -> list[ModelVersion]:
    """The model, its parent, its parent's parent, ... down to the base model."""
    chain, seen = [model], {model.pk}
    while chain[-1].parent_id is not None and chain[-1].parent_id not in seen:
        parent = ModelVersion.objects.select_related("snapshot", "training_job").get(pk=chain[-1].parent_id)
        chain.append(parent)
        seen.add(parent.pk)
    return chain


def model_training_rows(*, model: ModelVersion) -> QuerySet[SnapshotRow]:
    """Every frozen label that trained the model or any of its ancestors, oldest training first."""
    snapshots = [m.snapshot_id for m in model_lineage(model=model) if m.snapshot_id is not None]
    return SnapshotRow.objects.filter(snapshot_id__in=snapshots).order_by("snapshot_id", "position")


def model_label_counts(*, model: ModelVersion) -> list[dict[str, Any]]:
    """Per ancestor that was trained: its snapshot and how many labels of each kind it holds."""
    counts = []
    for version in model_lineage(model=model):
        if version.snapshot_id is None:
            continue
        rows = SnapshotRow.objects.filter(snapshot_id=version.snapshot_id)
        by_kind = {r["kind"]: r["n"] for r in rows.values("kind").annotate(n=Count("id")).order_by("kind")}
        counts.append({"model": version, "snapshot": version.snapshot, "by_kind": by_kind})
    return counts
