"""merge_adapter: fold a LoRA adapter into its base as a new model version (a merge job)."""

from typing import Any

from core.commands import DomainCommand
from registry.selectors import model_named
from trainer_bridge.management.commands._jobs import add_run_arguments, follow
from trainer_bridge.services.merging import merge_job_start


class Command(DomainCommand):
    help = "Merge a LoRA adapter model version into its base; the output is a model version of its own."

    def add_arguments(self, parser) -> None:
        parser.add_argument("adapter", help="the adapter model version (id or name)")
        parser.add_argument("--output-name", default="", help="name of the merged model version")
        add_run_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        job = merge_job_start(
            adapter=model_named(options["adapter"]), user=None, output_name=options["output_name"]
        )
        follow(job, options=options, stdout=self.stdout)
