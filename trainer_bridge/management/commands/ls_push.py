import json
from typing import Any

from core.commands import DomainCommand, progress_bar
from labeling.access import project_named
from trainer_bridge.labelstudio import PUSHABLE_KINDS, ls_client, ls_push


class Command(DomainCommand):
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
        project = project_named(options["project"])
        client = ls_client(url=options["url"], api_key=options["api_key"])
        with progress_bar(not options["no_progress"], "pushing tasks", "tasks") as on_progress:
            result = ls_push(
                client=client,
                project=project,
                kind=options["kind"],
                title=options["title"],
                include_done=options["include_done"],
                on_progress=on_progress,
            )
        self.stdout.write(json.dumps(result.__dict__))
