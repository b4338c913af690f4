"""What the export management commands share: arguments, a tqdm progress bar, errors as CommandError."""

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.errors import DomainError
from curation.selectors import snapshot_get
from trainer_bridge.exports.core import ExportResult, default_export_path, export_options, run_export


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--snapshot", required=True, help="snapshot id (or its name, when unique)")
    parser.add_argument("--out", type=Path, help="output file (default: under COACH_DATA_ROOT/exports)")
    parser.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    parser.add_argument("--split", choices=["all", "train", "validation"], default="all")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[Callable[[int, int], None]]:
    bar = tqdm(total=0, unit="rows", desc=label, disable=not enabled, dynamic_ncols=True)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()


def run_export_command(
    command: BaseCommand, options: dict[str, Any], kind: str, export: dict[str, Any]
) -> None:
    try:
        snapshot = snapshot_get(snapshot_id=options["snapshot"])
        export = export_options(kind, export | {"format": options["format"], "split": options["split"]})
        path = options["out"] or default_export_path(snapshot, kind, export)
        with progress_bar(not options["no_progress"], f"{kind} export of {snapshot.name}") as on_progress:
            result = run_export(
                snapshot=snapshot, kind=kind, path=path, options=export, on_progress=on_progress
            )
    except DomainError as exc:
        raise CommandError(exc.detail) from None
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
