"""What the probe and practice commands share: uploading a set, the model to sample from, running a set."""

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from labeling.services.imports import ImportRejected
from registry.models import ModelVersion
from registry.selectors import model_named
from registry.services import check_model_dir, model_register


def add_upload_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project name or id")
    parser.add_argument("name", help="a name for the set, unique in the project")
    parser.add_argument("path", type=Path, help="a .jsonl file")
    parser.add_argument("--user", help="who uploads it (default: the first superuser)")


def add_run_arguments(parser: argparse.ArgumentParser, *, samples: int, max_new_tokens: int) -> None:
    parser.add_argument("set", type=int, help="set id")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--model", help="a registered model version (id or name)")
    model.add_argument(
        "--model-path", help="a local model directory (registered as a base model if it is not yet)"
    )
    parser.add_argument("--samples", type=int, default=samples)
    parser.add_argument("--max-new-tokens", type=int, default=max_new_tokens)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--queue", action="store_true", help="send the run to the gpu queue instead of running here"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def model_to_sample(options: dict[str, Any]) -> ModelVersion:
    """The model version named by --model, or the one registered at --model-path (registering it once)."""
    if options["model"]:
        return model_named(options["model"])
    path = check_model_dir(options["model_path"])
    found = ModelVersion.objects.filter(path=str(path)).order_by("pk").first()
    if found is not None:
        return found
    name, n = path.name, 1
    while ModelVersion.objects.filter(name=name).exists():
        n += 1
        name = f"{path.name}-{n}"
    return model_register(path=path, name=name, description="registered by a probe or practice run")


def run_options(options: dict[str, Any]) -> dict[str, Any]:
    """How follow() runs a set: here with a bar, or on the gpu queue."""
    return {"inline": not options["queue"], "wait": False, "no_progress": options["no_progress"]}


def read_upload(path: Path, upload: Callable[[Any], Any], stderr: Any) -> Any:
    if not path.is_file():
        raise CommandError(f"no file at {path}")
    with path.open("rb") as stream:
        try:
            return upload(stream)
        except ImportRejected as exc:
            for error in exc.errors:
                stderr.write(f"{path}:{error.line}: {error.reason}")
            raise CommandError(exc.detail) from None
