import json
from typing import Any

from core.commands import DomainCommand, progress_bar
from core.errors import NotFound
from curation.models import PracticeSet
from trainer_bridge.exports import (
    PRACTICE_KINDS,
    practice_export_options,
    practice_export_path,
    run_practice_export,
)
from trainer_bridge.exports.cli import add_common_arguments, add_layout_argument, summary
from trainer_bridge.models import JobStatus, PracticeRun


class Command(DomainCommand):
    help = (
        "Export a practice set: its problems with answers and verifiers (for RL: TRL, verl or OpenRLHF "
        "rows), or a run's solutions (sft: the correct ones; rm: a correct one chosen over a wrong one)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--set", type=int, required=True, help="practice set id")
        parser.add_argument("--kind", choices=PRACTICE_KINDS, default="problems")
        parser.add_argument(
            "--run",
            type=int,
            help="a finished run of the set: its solutions (sft, rm; default: the latest run) "
            "or its pass rates (problems)",
        )
        add_layout_argument(parser, ("trl", "verl", "openrlhf"))
        add_common_arguments(parser, snapshot=False)

    def handle(self, *args: Any, **options: Any) -> None:
        practice_set = PracticeSet.objects.filter(pk=options["set"]).first()
        if practice_set is None:
            raise NotFound(f"there is no practice set {options['set']}", field="set")
        kind = options["kind"]
        runs = PracticeRun.objects.filter(practice_set=practice_set, status=JobStatus.DONE)
        run = None
        if options["run"] is not None:
            run = runs.filter(pk=options["run"]).first()
            if run is None:
                raise NotFound(
                    f"there is no finished run {options['run']} of {practice_set.name}", field="run"
                )
        elif kind != "problems":
            run = runs.order_by("-created_at", "-id").first()
        export = practice_export_options(
            kind, {"layout": options["layout"], "format": options["format"], "split": options["split"]}
        )
        path = options["out"] or practice_export_path(practice_set, run, kind, export)
        label = f"{kind} export of {practice_set.name}"
        with progress_bar(not options["no_progress"], label, "problems") as on_progress:
            result = run_practice_export(
                practice_set=practice_set,
                run=run,
                kind=kind,
                path=path,
                options=export,
                on_progress=on_progress,
            )
        self.stdout.write(json.dumps(summary(result) | {"run": run.pk if run else None}))
