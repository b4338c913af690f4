from typing import Any

from django.conf import settings

from core.commands import DomainCommand
from registry.models import ModelVersion
from registry.services import model_register

NAME = "tiny-demo"


class Command(DomainCommand):
    help = "Build the demo's tiny chat model from scratch and register it, unless it is registered already."

    def handle(self, *args: Any, **options: Any) -> None:
        if ModelVersion.objects.filter(name=NAME).exists():
            self.stdout.write(f"Demo model {NAME} is registered already.")
            return
        from trainer_bridge.ml.tiny import make_tiny_model  # torch: only when a model is built

        path = make_tiny_model(settings.MODEL_ROOT / NAME)
        model = model_register(
            path=path, name=NAME, description="tiny chat model built from scratch for the demo"
        )
        self.stdout.write(
            f"Demo model {model.name} registered (#{model.pk}): generate candidates with it on the Jobs tab."
        )
