"""Verifiable practice sets from the command line: upload problems, sample and verify solutions (the
exports are `export_practice`)."""

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from core.commands import DomainCommand, author_named
from curation.models import PracticeSet
from curation.practice import practice_set_upload, split_counts
from labeling.access import project_named
from trainer_bridge.management.commands import _sets as cli
from trainer_bridge.management.commands._jobs import follow
from trainer_bridge.services.practice import practice_run_start


class Command(DomainCommand):
    help = "Practice sets: upload | run (exports: manage.py export_practice)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        upload = actions.add_parser("upload", help="store problems with answers and verifiers")
        cli.add_upload_arguments(upload)
        upload.add_argument("--seed", type=int, default=0, help="seed of the held-out split by problem")
        upload.add_argument(
            "--validation-fraction", type=float, default=0.1, help="share of problems held out (0 to below 1)"
        )
        cli.add_run_arguments(
            actions.add_parser("run", help="sample solutions per problem and verify them"),
            samples=16,
            max_new_tokens=256,
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(getattr(self, f"_{options['action']}")(options)))

    @staticmethod
    def _set(set_id: int) -> PracticeSet:
        practice_set = PracticeSet.objects.filter(pk=set_id).first()
        if practice_set is None:
            raise CommandError(f"no practice set {set_id}")
        return practice_set

    def _upload(self, options: dict[str, Any]) -> dict[str, Any]:
        project = project_named(options["project"])
        user = author_named(options["user"])
        practice_set = cli.read_upload(
            options["path"],
            lambda stream: practice_set_upload(
                project=project,
                name=options["name"],
                stream=stream,
                uploaded_by=user,
                seed=options["seed"],
                validation_fraction=options["validation_fraction"],
            ),
            self.stderr,
        )
        return {
            "practice_set": practice_set.pk,
            "problems": practice_set.problems.count(),
            "split": split_counts(practice_set),
        }

    def _run(self, options: dict[str, Any]) -> dict[str, Any]:
        run = practice_run_start(
            practice_set=self._set(options["set"]),
            model_version=cli.model_to_sample(options),
            samples=options["samples"],
            max_new_tokens=options["max_new_tokens"],
            temperature=options["temperature"],
            seed=options["seed"],
        )
        follow(run, options=cli.run_options(options), stdout=self.stderr)
        run.refresh_from_db()
        rates = list(run.results.values_list("pass_rate", flat=True))
        mean = sum(rates) / len(rates) if rates else None
        return {"run": run.pk, "status": run.status, "problems": len(rates), "mean_pass_rate": mean}
