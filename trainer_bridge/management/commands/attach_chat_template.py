"""attach_chat_template: give a model version a chat template (one of Coach's, or a file)."""

from pathlib import Path
from typing import Any

from core.commands import DomainCommand
from registry.chat_templates import BUILTIN_TEMPLATES
from registry.selectors import model_named
from trainer_bridge.services.models import model_attach_chat_template


class Command(DomainCommand):
    help = "Attach a chat template to a model version whose tokenizer has none (or one SFT cannot use)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("model", help="model version (id or name)")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--builtin", choices=sorted(BUILTIN_TEMPLATES), help="one of Coach's templates")
        which.add_argument("--file", help="a jinja chat template file")

    def handle(self, *args: Any, **options: Any) -> None:
        template = Path(options["file"]).read_text() if options["file"] else ""
        model = model_attach_chat_template(
            model=model_named(options["model"]),
            user=None,
            builtin=options["builtin"] or "",
            template=template,
        )
        self.stdout.write(f"{model.name}: chat template {model.metrics.get('chat_template')} attached")
