"""Refusal probes from the command line: upload a question set, run it against a model, grade, make tasks."""

import json
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from curation import probing
from curation.management.commands import _sampling as cli
from curation.practice_models import ProbeRun, ProbeSet


class Command(BaseCommand):
    help = "Refusal probing: upload | run | grade | tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        cli.add_upload_arguments(actions.add_parser("upload", help="store questions with reference answers"))
        run = actions.add_parser("run", help="sample N answers per question, grade them, make refusal tasks")
        cli.add_run_arguments(run, samples=8, max_new_tokens=64)
        run.add_argument("--judge", default="containment", help="exact, containment, or a dotted path")
        grade = actions.add_parser("grade", help="grade a run's stored answers again")
        grade.add_argument("run", type=int)
        grade.add_argument("--judge", help="another judge than the run's")
        tasks = actions.add_parser("tasks", help="make the tasks of a graded run")
        tasks.add_argument("run", type=int)
        tasks.add_argument(
            "--demonstrations", action="store_true", help="also demonstrations for known answers"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = getattr(self, f"_{options['action']}")(options)
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(json.dumps(result))

    def _upload(self, options: dict[str, Any]) -> dict[str, Any]:
        project, user = cli.project_named(options["project"]), cli.user_named(options["user"])
        probe_set = cli.read_upload(
            options["path"],
            lambda stream: probing.probe_set_upload(
                project=project, name=options["name"], stream=stream, uploaded_by=user
            ),
            self.stderr,
        )
        return {"probe_set": probe_set.pk, "questions": probe_set.questions.count()}

    def _run(self, options: dict[str, Any]) -> dict[str, Any]:
        probe_set = ProbeSet.objects.filter(pk=options["set"]).first()
        if probe_set is None:
            raise CommandError(f"no probe set {options['set']}")
        run = probing.probe_run_start(
            probe_set=probe_set,
            samples=options["samples"],
            max_new_tokens=options["max_new_tokens"],
            temperature=options["temperature"],
            seed=options["seed"],
            judge=options["judge"],
            dispatch=options["queue"],
            **cli.model_options(options),
        )
        if not options["queue"]:
            with cli.progress_bar(not options["no_progress"], f"probe {probe_set.name}") as on_progress:
                probing.probe_run_execute(run_id=run.pk, on_progress=on_progress)
            run.refresh_from_db()
        verdicts = dict(Counter(run.outcomes.values_list("verdict", flat=True)))
        tasks = run.outcomes.filter(task__isnull=False).count()
        return {"run": run.pk, "status": run.status, "verdicts": verdicts, "tasks": tasks}

    def _grade(self, options: dict[str, Any]) -> dict[str, Any]:
        run = self._probe_run(options["run"])
        judge = probing.judge_named(options["judge"]) if options["judge"] else None
        return {"run": run.pk, "verdicts": probing.probe_run_grade(run=run, judge=judge)}

    def _tasks(self, options: dict[str, Any]) -> dict[str, Any]:
        run = self._probe_run(options["run"])
        made = {"refusal": probing.probe_refusal_tasks_create(run=run)}
        if options["demonstrations"]:
            made["demonstration"] = probing.probe_demonstration_tasks_create(run=run)
        return {"run": run.pk, "tasks": made}

    @staticmethod
    def _probe_run(run_id: int) -> ProbeRun:
        run = ProbeRun.objects.select_related("probe_set__project").filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"no probe run {run_id}")
        return run
