"""Registering a model directory: checked without torch, named, scoped to a project or shared."""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from core.errors import Conflict, DomainError
from core.types import User
from registry.models import ModelVersion

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
ADAPTER_WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


class ModelPathInvalid(DomainError):
    code = "model_path_invalid"


def model_roots() -> list[Path]:
    """The directories a model may be registered from: COACH_MODEL_ROOTS and the platform's own MODEL_ROOT."""
    return list(dict.fromkeys(Path(root).resolve() for root in [*settings.MODEL_ROOTS, settings.MODEL_ROOT]))


def check_model_dir(path: str | Path) -> Path:
    """A local transformers model directory (config, weights, tokenizer) inside a model root; no torch.

    The real path counts (`..` and symlinks resolved), and a refusal says the same for a path that does not
    exist as for one outside the roots, so the error tells nothing about the rest of the disk.
    """
    resolved = Path(path).expanduser().resolve()
    roots = model_roots()
    if not any(resolved.is_relative_to(root) for root in roots) or not resolved.is_dir():
        raise ModelPathInvalid(
            "not a model directory inside the model roots (COACH_MODEL_ROOTS: "
            + ", ".join(str(root) for root in roots)
            + ")",
            field="path",
        )
    missing = []
    if (resolved / "adapter_config.json").is_file():  # a LoRA adapter: its base holds config and weights
        if not any((resolved / name).is_file() for name in ADAPTER_WEIGHT_FILES):
            missing.append(" or ".join(ADAPTER_WEIGHT_FILES))
    else:
        if not (resolved / "config.json").is_file():
            missing.append("config.json")
        if not any((resolved / name).is_file() for name in WEIGHT_FILES):
            missing.append(" or ".join(WEIGHT_FILES))
        missing.extend(_missing_shards(resolved))
    if not any((resolved / name).is_file() for name in TOKENIZER_FILES):
        missing.append(" or ".join(TOKENIZER_FILES))
    if missing:
        raise ModelPathInvalid(f"{resolved} lacks {', '.join(missing)}", field="path")
    return resolved


def _missing_shards(resolved: Path) -> list[str]:
    """Shards a sharded checkpoint's index names that are not on disk."""
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (resolved / index).is_file():
            try:
                shards = set(json.loads((resolved / index).read_text())["weight_map"].values())
            except (ValueError, KeyError, AttributeError):
                return [f"a readable {index}"]
            return sorted(str(s) for s in shards if not (resolved / str(s)).is_file())
    return []


@transaction.atomic
def model_register(
    *,
    path: str | Path,
    name: str = "",
    kind: str = ModelVersion.Kind.BASE,
    project_id: int | None = None,
    parent: ModelVersion | None = None,
    metrics: dict[str, Any] | None = None,
    description: str = "",
    created_by: User | None = None,
) -> ModelVersion:
    """Add a model directory to the registry; a trained model names the model it was trained from.

    What it was trained on is recorded beside it by trainer_bridge (trainer_bridge.services.models).
    """
    resolved = check_model_dir(path)
    if kind not in ModelVersion.Kind.values:
        raise DomainError(f"kind is one of {ModelVersion.Kind.values}", field="kind")
    if kind != ModelVersion.Kind.BASE and parent is None:
        raise DomainError(f"a {kind} model names the model it was trained from", field="parent")
    is_adapter = (resolved / "adapter_config.json").is_file()
    if is_adapter != (kind == ModelVersion.Kind.ADAPTER):
        raise DomainError(
            "a LoRA adapter directory (adapter_config.json) registers as kind adapter, on its base"
            if is_adapter
            else "an adapter is a directory with adapter_config.json",
            field="kind",
        )
    name = name.strip() or (resolved.parent.name if resolved.name == "final" else resolved.name)
    if ModelVersion.objects.filter(name=name).exists():
        raise Conflict(f"a model named {name!r} is registered", field="name")
    if metrics is None and (resolved / "metrics.json").is_file():
        metrics = json.loads((resolved / "metrics.json").read_text())
    return ModelVersion.objects.create(
        name=name,
        kind=kind,
        path=str(resolved),
        project_id=project_id,
        parent=parent,
        adapter_of=parent if is_adapter else None,
        metrics=metrics or {},
        description=description,
        created_by=created_by,
    )
