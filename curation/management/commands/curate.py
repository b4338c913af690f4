import json
import sys
from typing import Any

from tqdm import tqdm

from core.commands import DomainCommand
from curation.cleaning.services import cleaning_run
from curation.models import CleaningFilter
from labeling.access import project_named


class _StepBars:
    """One tqdm bar per step of the run (dedup prompts, quality demonstrations, ...)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.step: str | None = None
        self.bar: tqdm | None = None

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if step != self.step:
            self.close()
            self.step = step
            self.bar = tqdm(total=total, desc=step, unit="doc", file=sys.stderr, leave=True)
        assert self.bar is not None
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(DomainCommand):
    help = "Run the cleaning filters over a project's prompts and demonstrations; print what each flagged."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="project id or name")
        parser.add_argument(
            "--filters",
            help=f"comma-separated filters (default: all of {', '.join(CleaningFilter.values)})",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_named(options["project"])
        filters = (
            [f.strip() for f in options["filters"].split(",") if f.strip()] if options["filters"] else None
        )
        bars = _StepBars(not options["no_progress"])
        try:
            run = cleaning_run(project=project, filters=filters, on_progress=bars)
        finally:
            bars.close()
        self.stdout.write(json.dumps({"cleaning_run": run.pk, "flagged": run.counts}))
