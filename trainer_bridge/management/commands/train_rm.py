from typing import Any

from trainer_bridge.management.commands._training_command import TrainingCommand


class Command(TrainingCommand):
    help = (
        "Start reward-model training on a snapshot's rankings with the K-wise loss (one ranking per batch "
        "element, ties give no pair); registers the result."
    )
    kind = "rm"

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--groups-per-batch", type=int, help="rankings per step")
        parser.add_argument("--by", choices=["labeler", "consensus"], default="labeler")

    def config(self, options: dict[str, Any]) -> dict[str, Any]:
        extra = {"groups_per_batch": options["groups_per_batch"]} if options["groups_per_batch"] else {}
        return super().config(options) | extra

    def data_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"by": options["by"]}
