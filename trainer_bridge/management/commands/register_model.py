from typing import Any

from core.commands import DomainCommand
from curation.selectors import snapshot_get
from labeling.access import project_named
from registry.models import ModelVersion
from registry.selectors import model_named
from trainer_bridge.services.models import model_register_with_lineage


class Command(DomainCommand):
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
        model = model_register_with_lineage(
            path=options["path"],
            name=options["name"],
            kind=options["kind"],
            project=project_named(options["project"]) if options["project"] else None,
            parent=model_named(options["parent"]) if options["parent"] else None,
            snapshot=snapshot_get(snapshot_id=options["snapshot"]) if options["snapshot"] else None,
            description=options["description"],
        )
        self.stdout.write(f"registered {model.kind} model {model.name} (#{model.pk}) at {model.path}")
