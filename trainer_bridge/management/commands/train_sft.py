from typing import Any

from trainer_bridge.management.commands._training_command import TrainingCommand


class Command(TrainingCommand):
    help = "Start SFT on a snapshot's demonstrations (loss on assistant tokens only); registers the result."
    kind = "sft"

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--kinds", help="comma-separated: demonstration, refusal, search (default: all)")

    def config(self, options: dict[str, Any]) -> dict[str, Any]:
        extra = {"batch_size": options["batch_size"]} if options["batch_size"] is not None else {}
        return super().config(options) | extra

    def data_options(self, options: dict[str, Any]) -> dict[str, Any]:
        kinds = [k.strip() for k in (options["kinds"] or "").split(",") if k.strip()]
        return {"kinds": kinds} if kinds else {}
