from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from core.commands import DomainCommand
from labeling.access import project_named
from registry.services import model_register


class Command(DomainCommand):
    help = (
        "Build a tiny Llama-style chat model and its BPE tokenizer (with a chat template) from scratch, "
        "for the demo and tests; nothing is downloaded."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("dir", type=Path, help="output directory")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--hidden-size", type=int, default=64)
        parser.add_argument("--layers", type=int, default=2)
        parser.add_argument("--heads", type=int, default=4)
        parser.add_argument("--kv-heads", type=int, default=2)
        parser.add_argument(
            "--warmup-steps", type=int, default=60, help="language-model steps on template chats"
        )
        parser.add_argument("--register", action="store_true", help="also add it to the model registry")
        parser.add_argument("--name", default="", help="registry name (default: the directory's name)")
        parser.add_argument("--project", help="register it for one project (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        from trainer_bridge.ml.tiny import make_tiny_model  # torch: only when the command runs

        try:
            out = make_tiny_model(
                options["dir"],
                seed=options["seed"],
                warmup_steps=options["warmup_steps"],
                hidden_size=options["hidden_size"],
                num_layers=options["layers"],
                num_heads=options["heads"],
                num_kv_heads=options["kv_heads"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"tiny model written to {out.resolve()}")
        if options["register"]:
            model = model_register(
                path=out,
                name=options["name"],
                project_id=project_named(options["project"]).pk if options["project"] else None,
                description="tiny Llama-style chat model built from scratch (make_tiny_model)",
            )
            self.stdout.write(f"registered base model {model.name} (#{model.pk})")
