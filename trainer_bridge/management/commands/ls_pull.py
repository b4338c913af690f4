import json
from typing import Any

from django.core.management.base import CommandError

from core.commands import DomainCommand
from labeling.access import project_named
from trainer_bridge.labelstudio import (
    PUSHABLE_KINDS,
    default_title,
    ls_client,
    ls_fetch_export,
    ls_project_id_for,
    ls_pull,
    read_export_file,
)


def parse_user_map(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        for pair in filter(None, (p.strip() for p in item.split(","))):
            key, sep, username = pair.partition("=")
            if not sep or not key.strip() or not username.strip():
                raise CommandError(f"--user-map takes LS_ID_OR_EMAIL=USERNAME, not {pair!r}")
            mapping[key.strip()] = username.strip()
    return mapping


class Command(DomainCommand):
    help = "Bring Label Studio annotations back as Coach submissions (from the server or a JSON export file)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="Coach project id or name")
        parser.add_argument("--file", help="a Label Studio JSON export file (works offline)")
        parser.add_argument("--kind", choices=[str(k) for k in PUSHABLE_KINDS], default="ranking")
        parser.add_argument("--url", help="Label Studio URL (default: $LABEL_STUDIO_URL)")
        parser.add_argument("--api-key", help="Label Studio API key (default: $LABEL_STUDIO_API_KEY)")
        parser.add_argument("--title", help="Label Studio project title (default: as ls_push names it)")
        parser.add_argument("--ls-project", type=int, help="Label Studio project id (instead of the title)")
        parser.add_argument(
            "--user-map", action="append", default=[], help="LS_ID_OR_EMAIL=USERNAME[,...]; may repeat"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_named(options["project"])
        user_map = parse_user_map(options["user_map"])
        if options["file"]:
            tasks, emails = read_export_file(options["file"]), dict[str, str]()
        else:
            client = ls_client(url=options["url"], api_key=options["api_key"])
            title = options["title"] or default_title(project, options["kind"])
            ls_project_id = options["ls_project"] or ls_project_id_for(client=client, title=title)
            if ls_project_id is None:
                raise CommandError(f"Label Studio has no project titled {title!r}")
            tasks, emails = ls_fetch_export(client=client, ls_project_id=ls_project_id)
        result = ls_pull(project=project, tasks=tasks, emails=emails, user_map=user_map)
        self.stdout.write(json.dumps(result.__dict__))
        for reason in result.skipped:
            self.stderr.write(f"skipped: {reason}")
