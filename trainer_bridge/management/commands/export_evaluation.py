from pathlib import Path
from typing import Any

from core.commands import DomainCommand
from labeling.access import project_named
from trainer_bridge.exports.evaluation import evaluation_dpo_rows, evaluation_vote_rows
from trainer_bridge.exports.files import json_line, write_jsonl

WHAT = {"votes": evaluation_vote_rows, "dpo": evaluation_dpo_rows}


class Command(DomainCommand):
    help = (
        "Write a project's blind evaluation as JSONL: every vote (--what votes), or DPO preference pairs "
        "for the tasks where one side won (--what dpo). The file appears whole or not at all."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="project id or name")
        parser.add_argument("--what", choices=sorted(WHAT), default="votes")
        parser.add_argument("--out", required=True, help="the JSONL file to write")
        parser.add_argument("--accepted-only", action="store_true", help="only votes a reviewer accepted")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_named(options["project"])
        rows = WHAT[options["what"]](project=project, accepted_only=options["accepted_only"])
        count = write_jsonl(Path(options["out"]), map(json_line, rows)).records
        self.stdout.write(f"{count} rows written to {options['out']}")
