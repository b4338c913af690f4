from typing import Any

from labeling.management.commands._importing import ImportCommand
from labeling.models import Project
from labeling.services.imports import ImportResult, candidates_import


class Command(ImportCommand):
    help = "Import candidate answers keyed by prompt_external_id from JSONL or CSV into a project."
    what = "candidates"

    def run_import(self, project: Project, stream: Any, fmt: str, options: dict[str, Any]) -> ImportResult:
        return candidates_import(project=project, stream=stream, fmt=fmt)
