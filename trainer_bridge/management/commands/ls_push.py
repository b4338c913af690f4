import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from labeling.models import Project
from trainer_bridge.exports.cli import progress_bar
from trainer_bridge.labelstudio import PUSHABLE_KINDS, ls_client, ls_push


def project_by_ref(ref: str) -> Project:
    project = Project.objects.filter(**({"pk": int(ref)} if ref.isdigit() else {"name": ref})).first()
    if project is None:
        raise CommandError(f"there is no project {ref!r}")
    return project


class Command(BaseCommand):
    help = "Create or update a Label Studio project for one kind of a Coach project's tasks; add new ones."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="Coach project id or name")
        parser.add_argument("--kind", choices=[str(k) for k in PUSHABLE_KINDS], default="ranking")
        parser.add_argument("--url", help="Label Studio URL (default: $LABEL_STUDIO_URL)")
        parser.add_argument("--api-key", help="Label Studio API key (default: $LABEL_STUDIO_API_KEY)")
        parser.add_argument(
            "--title", help="Label Studio project title (default: 'Coach · <project> · <kind>')"
        )
        parser.add_argument(
            "--include-done", action="store_true", help="also push tasks that need no more labels"
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_ref(options["project"])
        try:
            client = ls_client(url=options["url"], api_key=options["api_key"])
            with progress_bar(not options["no_progress"], "pushing tasks") as on_progress:
                result = ls_push(
                    client=client,
                    project=project,
                    kind=options["kind"],
                    title=options["title"],
                    include_done=options["include_done"],
                    on_progress=on_progress,
                )
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(json.dumps(result.__dict__))
