from typing import Any

from core.commands import DomainCommand
from trainer_bridge.exports.cli import add_common_arguments, add_layout_argument, run_export_command


class Command(DomainCommand):
    help = (
        "Export each prompt of a snapshot once, as prompt-only rows for the RL stage "
        "(TRL, verl or OpenRLHF rows)."
    )

    def add_arguments(self, parser) -> None:
        add_common_arguments(parser)
        add_layout_argument(parser, ("trl", "verl", "openrlhf"))
        parser.add_argument(
            "--kinds",
            default="ranking,demonstration,refusal,search",
            help="comma-separated task kinds whose prompts to include (default: all)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        run_export_command(self, options, "prompts", {"kinds": options["kinds"], "layout": options["layout"]})
