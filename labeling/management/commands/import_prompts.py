from typing import Any

from django.core.management.base import CommandParser

from labeling.management.commands._importing import ImportCommand
from labeling.models import Project, TaskKind
from labeling.services.imports import ImportResult, prompts_import


class Command(ImportCommand):
    help = "Import prompts (plain `prompt` or chat `messages`) from JSONL or CSV into a project."
    what = "prompts"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--task-kind", choices=TaskKind.values, help="the kind of task each prompt becomes"
        )

    def run_import(self, project: Project, stream: Any, fmt: str, options: dict[str, Any]) -> ImportResult:
        return prompts_import(project=project, stream=stream, fmt=fmt, task_kind=options["task_kind"])
