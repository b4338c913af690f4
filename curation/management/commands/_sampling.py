"""What the probe and practice commands share: lookups, the model to sample from, a tqdm progress bar."""

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from tqdm import tqdm

from labeling.models import Project
from labeling.services.imports import ImportRejected


def project_named(key: str) -> Project:
    project = Project.objects.filter(**({"pk": int(key)} if key.isdigit() else {"name": key})).first()
    if project is None:
        raise CommandError(f"no project {key!r}")
    return project


def user_named(username: str | None) -> Any:
    """The named user, else the first superuser (an upload records who made it)."""
    users = get_user_model().objects
    user = users.filter(username=username).first() if username else users.filter(is_superuser=True).first()
    if user is None:
        raise CommandError("name an existing user with --user")
    return user


def add_upload_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project name or id")
    parser.add_argument("name", help="a name for the set, unique in the project")
    parser.add_argument("path", type=Path, help="a .jsonl file")
    parser.add_argument("--user", help="who uploads it (default: the first superuser)")


def add_run_arguments(parser: argparse.ArgumentParser, *, samples: int, max_new_tokens: int) -> None:
    parser.add_argument("set", type=int, help="set id")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--model-version", type=int, help="a registered model version id")
    model.add_argument("--model-path", help="a local model directory")
    parser.add_argument("--samples", type=int, default=samples)
    parser.add_argument("--max-new-tokens", type=int, default=max_new_tokens)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--queue", action="store_true", help="send the run to the gpu queue instead of running here"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def model_options(options: dict[str, Any]) -> dict[str, Any]:
    """model_name, model_path and model_version_id for a run, from --model-version or --model-path."""
    if options["model_path"]:
        path = Path(options["model_path"])
        if not (path / "config.json").is_file():
            raise CommandError(f"{path} holds no model (no config.json)")
        return {"model_name": path.name, "model_path": str(path.resolve()), "model_version_id": None}
    from trainer_bridge.models import ModelVersion

    version = ModelVersion.objects.filter(pk=options["model_version"]).first()
    if version is None:
        raise CommandError(f"no model version {options['model_version']}")
    return {
        "model_name": version.candidate_model_name,
        "model_path": version.path,
        "model_version_id": version.pk,
    }


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


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[Callable[[int, int], None]]:
    bar = tqdm(total=0, unit="items", desc=label, disable=not enabled, dynamic_ncols=True)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()
