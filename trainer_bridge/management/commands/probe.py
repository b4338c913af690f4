"""Refusal probes from the command line: upload a question set, run it against a model, grade, make tasks."""

import json
from collections import Counter
from typing import Any

from django.core.management.base import CommandError, CommandParser

from core.commands import DomainCommand, author_named
from curation.models import ProbeSet
from curation.probes import judge_named, probe_set_upload
from labeling.access import project_named
from trainer_bridge.management.commands import _sets as cli
from trainer_bridge.management.commands._jobs import follow
from trainer_bridge.models import ProbeRun
from trainer_bridge.services.probes import (
    probe_demonstration_tasks_create,
    probe_refusal_tasks_create,
    probe_run_grade,
    probe_run_start,
)


class Command(DomainCommand):
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
        self.stdout.write(json.dumps(getattr(self, f"_{options['action']}")(options)))

    def _upload(self, options: dict[str, Any]) -> dict[str, Any]:
        project = project_named(options["project"])
        user = author_named(options["user"])
        probe_set = cli.read_upload(
            options["path"],
            lambda stream: probe_set_upload(
                project=project, name=options["name"], stream=stream, uploaded_by=user
            ),
            self.stderr,
        )
        return {"probe_set": probe_set.pk, "questions": probe_set.questions.count()}

    def _run(self, options: dict[str, Any]) -> dict[str, Any]:
        probe_set = ProbeSet.objects.filter(pk=options["set"]).first()
        if probe_set is None:
            raise CommandError(f"no probe set {options['set']}")
        run = probe_run_start(
            probe_set=probe_set,
            model_version=cli.model_to_sample(options),
            samples=options["samples"],
            max_new_tokens=options["max_new_tokens"],
            temperature=options["temperature"],
            seed=options["seed"],
            judge=options["judge"],
        )
        follow(run, options=cli.run_options(options), stdout=self.stderr)
        run.refresh_from_db()
        verdicts = dict(Counter(run.outcomes.values_list("verdict", flat=True)))
        tasks = run.outcomes.filter(task__isnull=False).count()
        return {"run": run.pk, "status": run.status, "verdicts": verdicts, "tasks": tasks}

    def _grade(self, options: dict[str, Any]) -> dict[str, Any]:
        run = self._probe_run(options["run"])
        judge = judge_named(options["judge"]) if options["judge"] else None
        return {"run": run.pk, "verdicts": probe_run_grade(run=run, judge=judge)}

    def _tasks(self, options: dict[str, Any]) -> dict[str, Any]:
        run = self._probe_run(options["run"])
        made = {"refusal": probe_refusal_tasks_create(run=run)}
        if options["demonstrations"]:
            made["demonstration"] = probe_demonstration_tasks_create(run=run)
        return {"run": run.pk, "tasks": made}

    @staticmethod
    def _probe_run(run_id: int) -> ProbeRun:
        run = ProbeRun.objects.select_related("probe_set__project").filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"no probe run {run_id}")
        return run
