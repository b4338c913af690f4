from typing import Any

from core.commands import DomainCommand
from trainer_bridge.exports.cli import add_common_arguments, add_layout_argument, run_export_command


class Command(DomainCommand):
    help = (
        "Export a snapshot's rankings for reward-model training: pairwise preference rows or K-wise groups."
    )

    def add_arguments(self, parser) -> None:
        add_common_arguments(parser)
        add_layout_argument(parser, ("trl", "openrlhf"))
        parser.add_argument(
            "--mode",
            choices=["pairwise", "kwise"],
            default="pairwise",
            help="pairwise: prompt/chosen/rejected rows (ties give no pair); kwise: candidates in rank order",
        )
        parser.add_argument(
            "--by",
            choices=["labeler", "consensus"],
            default="labeler",
            help="labeler: every labeler's ranking; consensus: one ranking per task, by the snapshot's rule",
        )
        parser.add_argument("--margin", action="store_true", help="pairwise rows carry the tier distance")
        parser.add_argument(
            "--edited-over-draft",
            action="store_true",
            help="also a pair per reply a labeler changed from its model draft: the reply over the draft",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        export = {
            "mode": options["mode"],
            "by": options["by"],
            "margin": options["margin"],
            "layout": options["layout"],
            "edited_over_draft": options["edited_over_draft"],
        }
        run_export_command(self, options, "rm", export)
