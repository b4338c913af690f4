from typing import Any

from core.commands import DomainCommand
from trainer_bridge.exports.cli import add_common_arguments, run_export_command


class Command(DomainCommand):
    help = "Export a snapshot's demonstrations, refusals and search-tool chats as TRL `messages` rows."

    def add_arguments(self, parser) -> None:
        add_common_arguments(parser)
        parser.add_argument(
            "--kinds",
            default="demonstration,refusal,search",
            help="comma-separated task kinds to include (default: demonstration,refusal,search)",
        )
        parser.add_argument(
            "--skip-unchanged-drafts",
            action="store_true",
            help="leave out replies that are a model draft submitted as it was",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        export = {"kinds": options["kinds"], "skip_unchanged_drafts": options["skip_unchanged_drafts"]}
        run_export_command(self, options, "sft", export)
