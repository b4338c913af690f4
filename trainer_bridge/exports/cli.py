"""What the export management commands share: arguments, a progress bar, a summary line."""

import argparse
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from core.commands import progress_bar
from curation.selectors import snapshot_get
from trainer_bridge.exports.core import ExportResult, default_export_path, export_options, run_export


def add_common_arguments(parser: argparse.ArgumentParser, *, snapshot: bool = True) -> None:
    if snapshot:
        parser.add_argument("--snapshot", required=True, help="snapshot id (or its name, when unique)")
    parser.add_argument("--out", type=Path, help="output file (default: under COACH_DATA_ROOT/exports)")
    parser.add_argument(
        "--format", choices=["jsonl", "parquet"], help="default: jsonl (parquet for --layout verl)"
    )
    parser.add_argument("--split", choices=["all", "train", "validation"], default="all")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_layout_argument(parser: argparse.ArgumentParser, layouts: tuple[str, ...]) -> None:
    parser.add_argument(
        "--layout",
        choices=layouts,
        default="trl",
        help="whose trainer reads the file (docs/operations.md shows how to hand it over)",
    )


def run_export_command(
    command: BaseCommand, options: dict[str, Any], kind: str, export: dict[str, Any]
) -> None:
    snapshot = snapshot_get(snapshot_id=options["snapshot"])
    export = export_options(kind, export | {"format": options["format"], "split": options["split"]})
    path = options["out"] or default_export_path(snapshot, kind, export)
    with progress_bar(not options["no_progress"], f"{kind} export of {snapshot.name}", "rows") as on_progress:
        result = run_export(snapshot=snapshot, kind=kind, path=path, options=export, on_progress=on_progress)
    command.stdout.write(json.dumps(summary(result)))


def summary(result: ExportResult) -> dict[str, Any]:
    return {
        "path": str(result.path),
        "kind": result.kind,
        "options": result.options,
        "rows_read": result.rows_read,
        "records": result.records,
        "bytes": result.bytes,
        "sha256": result.sha256,
        "seconds": round(result.seconds, 3),
    }
