from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from core.commands import DomainCommand
from labeling import importing
from labeling.access import project_named
from labeling.models import Project
from labeling.services.imports import ImportRejected, ImportResult


class ImportCommand(DomainCommand):
    """Shared shape of import_prompts and import_candidates: all lines or none, every bad line reported."""

    what = "rows"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name or id")
        parser.add_argument("path", type=Path, help="a .jsonl or .csv file")
        parser.add_argument(
            "--format", choices=["jsonl", "csv"], help="override the format the extension implies"
        )

    def run_import(self, project: Project, stream: Any, fmt: str, options: dict[str, Any]) -> ImportResult:
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_named(options["project"])
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"no file at {path}")
        try:
            fmt = importing.detect_format(path.name, options["format"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        with path.open("rb") as stream:
            try:
                result = self.run_import(project, stream, fmt, options)
            except ImportRejected as exc:
                for error in exc.errors[: importing.MAX_REPORTED_ERRORS]:
                    self.stderr.write(f"{path}:{error.line}: {error.reason}")
                raise CommandError(exc.detail) from None
        self.stdout.write(
            f"{result.created} {self.what} imported, {result.unchanged} already present, "
            f"{result.tasks_created} tasks created"
        )
