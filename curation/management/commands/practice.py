"""Verifiable practice sets from the command line: upload problems, sample and verify solutions, export."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from curation import practice
from curation.management.commands import _sampling as cli
from curation.practice_models import PracticeRun, PracticeSet


class Command(BaseCommand):
    help = "Practice sets: upload | run | export (sft: correct solutions; rm: correct vs incorrect; rl)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        cli.add_upload_arguments(
            actions.add_parser("upload", help="store problems with answers and verifiers")
        )
        cli.add_run_arguments(
            actions.add_parser("run", help="sample solutions per problem and verify them"),
            samples=16,
            max_new_tokens=256,
        )
        export = actions.add_parser("export", help="write a JSONL export")
        export.add_argument("kind", choices=["sft", "rm", "rl"])
        export.add_argument("set", type=int, help="practice set id")
        export.add_argument("--run", type=int, help="the run whose solutions to export (default: the latest)")
        export.add_argument("--out", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = getattr(self, f"_{options['action']}")(options)
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(json.dumps(result))

    @staticmethod
    def _set(set_id: int) -> PracticeSet:
        practice_set = PracticeSet.objects.filter(pk=set_id).first()
        if practice_set is None:
            raise CommandError(f"no practice set {set_id}")
        return practice_set

    def _upload(self, options: dict[str, Any]) -> dict[str, Any]:
        project, user = cli.project_named(options["project"]), cli.user_named(options["user"])
        practice_set = cli.read_upload(
            options["path"],
            lambda stream: practice.practice_set_upload(
                project=project, name=options["name"], stream=stream, uploaded_by=user
            ),
            self.stderr,
        )
        return {"practice_set": practice_set.pk, "problems": practice_set.problems.count()}

    def _run(self, options: dict[str, Any]) -> dict[str, Any]:
        practice_set = self._set(options["set"])
        run = practice.practice_run_start(
            practice_set=practice_set,
            samples=options["samples"],
            max_new_tokens=options["max_new_tokens"],
            temperature=options["temperature"],
            seed=options["seed"],
            dispatch=options["queue"],
            **cli.model_options(options),
        )
        if not options["queue"]:
            with cli.progress_bar(not options["no_progress"], f"practice {practice_set.name}") as on_progress:
                practice.practice_run_execute(run_id=run.pk, on_progress=on_progress)
            run.refresh_from_db()
        rates = list(run.results.values_list("pass_rate", flat=True))
        mean = sum(rates) / len(rates) if rates else None
        return {"run": run.pk, "status": run.status, "problems": len(rates), "mean_pass_rate": mean}

    def _export(self, options: dict[str, Any]) -> dict[str, Any]:
        practice_set = self._set(options["set"])
        runs = PracticeRun.objects.filter(practice_set=practice_set, status=PracticeRun.Status.DONE)
        run = (
            runs.filter(pk=options["run"]).first() if options["run"] else runs.order_by("-created_at").first()
        )
        if options["run"] and run is None:
            raise CommandError(f"no finished run {options['run']} of this practice set")
        rows = practice.practice_export(
            kind=options["kind"], path=options["out"], practice_set=practice_set, run=run
        )
        return {"path": str(options["out"]), "rows": rows, "run": run.pk if run else None}
