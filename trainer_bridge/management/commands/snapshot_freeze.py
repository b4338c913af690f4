import json
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import CommandError
from django.utils import timezone

from core.commands import DomainCommand, progress_bar, user_named
from curation.snapshots import Verdict, snapshot_freeze
from labeling.access import project_named


def _csv(value: str | None) -> list[str] | None:
    return [item.strip() for item in value.split(",") if item.strip()] if value else None


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not an ISO date or date-time") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


class Command(DomainCommand):
    help = "Freeze a project's reviewed annotations into an immutable, content-hashed dataset snapshot."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="project id or name")
        parser.add_argument("--name", required=True, help="snapshot name, unique in the project")
        parser.add_argument("--kinds", help="comma-separated task kinds (default: all of the project's)")
        parser.add_argument(
            "--verdict",
            choices=list(Verdict.CHOICES),
            default=Verdict.ACCEPTED,
            help="accepted: the latest review accepts or edits it; unreviewed_allowed: also unreviewed work",
        )
        parser.add_argument("--since", help="submitted at or after (ISO date or date-time, UTC if naive)")
        parser.add_argument("--until", help="submitted before (ISO date or date-time, UTC if naive)")
        parser.add_argument("--guideline-versions", help="comma-separated guideline version numbers")
        parser.add_argument("--labelers", help="comma-separated usernames")
        parser.add_argument(
            "--min-labeler-score", type=float, help="leave out the work of labelers scored below it (0..1)"
        )
        parser.add_argument("--seed", type=int, default=0, help="seed of the train/validation split")
        parser.add_argument("--validation-fraction", type=float, default=0.1)
        parser.add_argument("--user", help="username recorded as the snapshot's author")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_named(options["project"])
        user = user_named(options["user"])
        try:
            versions = [int(v) for v in _csv(options["guideline_versions"]) or []] or None
        except ValueError:
            raise CommandError("guideline versions are whole numbers") from None
        with progress_bar(not options["no_progress"], f"freezing {options['name']}") as on_progress:
            snapshot = snapshot_freeze(
                project=project,
                name=options["name"],
                created_by=user,
                kinds=_csv(options["kinds"]),
                verdict=options["verdict"],
                submitted_after=_moment(options["since"]),
                submitted_before=_moment(options["until"]),
                guideline_versions=versions,
                labelers=_csv(options["labelers"]),
                min_labeler_score=options["min_labeler_score"],
                seed=options["seed"],
                validation_fraction=options["validation_fraction"],
                on_progress=on_progress,
            )
        manifest = {k: v for k, v in snapshot.manifest.items() if k != "source_annotation_ids"}
        self.stdout.write(json.dumps({"id": snapshot.pk} | manifest))
