from typing import Any

from trainer_bridge.management.commands._training_command import TrainingCommand
from trainer_bridge.ml.config import DPO_LOSSES


class Command(TrainingCommand):
    help = (
        "Start DPO on a snapshot's preference pairs (each ranking's answers in different tiers; ties give no "
        "pair) against the starting model as the reference; registers the policy it makes."
    )
    kind = "dpo"

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--by", choices=["labeler", "consensus"], default="labeler")
        parser.add_argument("--loss-type", choices=DPO_LOSSES, help="sigmoid (the default), ipo, ...")
        parser.add_argument("--beta", type=float, help="distance allowed from the reference model (0.1)")
        parser.add_argument("--batch-size", type=int, help="preference pairs per step")

    def config(self, options: dict[str, Any]) -> dict[str, Any]:
        extra = {
            name: options[name] for name in ("loss_type", "beta", "batch_size") if options[name] is not None
        }
        return super().config(options) | extra

    def data_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"by": options["by"]}
