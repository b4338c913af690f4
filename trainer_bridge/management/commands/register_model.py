from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from curation.selectors import snapshot_get
from trainer_bridge.management.commands._jobs import model_named, project_named
from trainer_bridge.models import ModelVersion
from trainer_bridge.registry import model_register


class Command(BaseCommand):
    help = "Add a local model directory (config, weights, tokenizer) to the model registry."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="a directory written by save_pretrained")
        parser.add_argument("--name", default="", help="unique name (default: the directory's name)")
        parser.add_argument("--kind", choices=ModelVersion.Kind.values, default=ModelVersion.Kind.BASE)
        parser.add_argument("--project", help="project id or name (default: every project may use it)")
        parser.add_argument("--parent", help="the model it was trained from (sft and rm)")
        parser.add_argument("--snapshot", help="the snapshot it was trained on (sft and rm)")
        parser.add_argument("--description", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            model = model_register(
                path=options["path"],
                name=options["name"],
                kind=options["kind"],
                project=project_named(options["project"]) if options["project"] else None,
                parent=model_named(options["parent"]) if options["parent"] else None,
                snapshot=snapshot_get(snapshot_id=options["snapshot"]) if options["snapshot"] else None,
                description=options["description"],
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(f"registered {model.kind} model {model.name} (#{model.pk}) at {model.path}")
