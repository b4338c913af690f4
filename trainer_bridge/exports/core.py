"""Export a frozen snapshot to a file: SFT conversations, reward-model rankings, or prompts.

The rows stream from a server-side cursor and the file is written as it goes, so memory stays flat
however big the snapshot; the same snapshot and options always give byte-identical files.
"""

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from core.errors import DomainError
from curation.models import DatasetSnapshot
from curation.selectors import snapshot_row_count, snapshot_rows
from curation.snapshots import snapshot_consensus_rule
from curation.splits import SPLITS
from trainer_bridge.exports import records
from trainer_bridge.exports.files import (
    FORMATS,
    EmptyOutput,
    ParquetSchemaConflict,
    Written,
    json_line,
    write_jsonl,
    write_parquet,
)

KINDS = ("sft", "rm", "prompts")
SFT_KINDS = ("demonstration", "refusal", "search")
PROMPT_KINDS = ("ranking", *SFT_KINDS)
RM_MODES = ("pairwise", "kwise")
RM_BY = ("labeler", "consensus")
OnProgress = Callable[[int, int], None]  # (snapshot rows read, rows to read)
_PROGRESS_EVERY = 1000


class ExportEmpty(DomainError):
    code = "export_empty"


class ExportFailed(DomainError):
    code = "export_failed"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    kind: str
    options: dict[str, Any]
    rows_read: int
    records: int
    bytes: int
    sha256: str
    seconds: float


def export_options(kind: str, raw: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Checked options with defaults filled in; the same dict always names the same file."""
    raw = dict(raw or {})
    if kind not in KINDS:
        raise DomainError(f"an export is one of {list(KINDS)}", field="kind")
    options: dict[str, Any] = {
        "format": _choice(raw.pop("format", None) or "jsonl", FORMATS, "format"),
        "split": _choice(raw.pop("split", None) or "all", ("all", *SPLITS), "split"),
    }
    if kind == "rm":
        options["mode"] = _choice(raw.pop("mode", None) or "pairwise", RM_MODES, "mode")
        options["by"] = _choice(raw.pop("by", None) or "labeler", RM_BY, "by")
        options["margin"] = bool(raw.pop("margin", False))
        if options["margin"] and options["mode"] != "pairwise":
            raise DomainError("a margin belongs to pairwise rows", field="margin")
    else:
        allowed = SFT_KINDS if kind == "sft" else PROMPT_KINDS
        kinds = raw.pop("kinds", None) or list(allowed)
        if isinstance(kinds, str):
            kinds = [k.strip() for k in kinds.split(",") if k.strip()]
        if unknown := sorted(set(kinds) - set(allowed)):
            raise DomainError(f"{kind} exports take kinds from {list(allowed)}, not {unknown}", field="kinds")
        options["kinds"] = sorted(set(kinds))
    if unused := {k: v for k, v in raw.items() if v not in (None, False, "", [])}:
        raise DomainError(
            f"options {sorted(unused)} do not apply to a {kind} export", field=sorted(unused)[0]
        )
    return options


def _choice(value: Any, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise DomainError(f"{name} must be one of {list(allowed)}", field=name)
    return value


def default_export_path(snapshot: DatasetSnapshot, kind: str, options: dict[str, Any]) -> Path:
    """Where an export of these options goes under EXPORT_ROOT: one file per snapshot and options."""
    key = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:10]
    parts = [slugify(snapshot.name) or "snapshot", kind]
    if kind == "rm":
        parts += [options["mode"], options["by"]]
    if options["split"] != "all":
        parts.append(options["split"])
    extension = "jsonl" if options["format"] == "jsonl" else "parquet"
    return Path(settings.EXPORT_ROOT) / f"snapshot-{snapshot.pk}" / f"{'-'.join(parts)}-{key}.{extension}"


def run_export(
    *,
    snapshot: DatasetSnapshot,
    kind: str,
    path: Path,
    options: Mapping[str, Any] | None = None,
    on_progress: OnProgress | None = None,
) -> ExportResult:
    started = time.monotonic()
    options = export_options(kind, options)
    row_kinds = ["ranking"] if kind == "rm" else options["kinds"]
    split = None if options["split"] == "all" else options["split"]
    total = snapshot_row_count(snapshot=snapshot, kinds=row_kinds, split=split)
    if total == 0:
        where = "" if split is None else f" in the {split} split"
        raise ExportEmpty(
            f"snapshot {snapshot.pk} ({snapshot.name}) has no {' or '.join(row_kinds)} rows{where}",
            field="snapshot",
        )
    consensus = snapshot_consensus_rule(snapshot)  # None: frozen before manifests named it (mean rank)
    passes = 2 if options["format"] == "parquet" else 1
    read = [0]
    if on_progress:
        on_progress(0, total * passes)

    def rows() -> Iterator[dict[str, Any]]:
        for row in snapshot_rows(snapshot=snapshot, kinds=row_kinds, split=split):
            read[0] += 1
            if on_progress and read[0] % _PROGRESS_EVERY == 0:
                on_progress(read[0], total * passes)
            yield row

    def make_records() -> Iterator[dict[str, Any]]:
        if kind == "sft":
            return records.sft_records(rows())
        if kind == "prompts":
            return records.prompt_records(rows())
        if options["mode"] == "kwise":
            return records.kwise_records(rows(), by=options["by"], consensus=consensus)
        return records.pair_records(rows(), by=options["by"], margin=options["margin"], consensus=consensus)

    try:
        with transaction.atomic():  # server-side cursors stream rows only inside a transaction
            written: Written
            if options["format"] == "parquet":
                written = write_parquet(path, make_records)
            elif kind == "rm" and options["mode"] == "pairwise":
                lines = records.pair_lines(
                    rows(), by=options["by"], margin=options["margin"], consensus=consensus
                )
                written = write_jsonl(path, lines)
            else:
                written = write_jsonl(path, map(json_line, make_records()))
    except EmptyOutput:
        why = ": every ranking is a single tie" if kind == "rm" and options["mode"] == "pairwise" else ""
        raise ExportEmpty(
            f"snapshot {snapshot.pk} ({snapshot.name}) gives no {kind} records{why}", field="snapshot"
        ) from None
    except ParquetSchemaConflict as exc:
        raise ExportFailed(str(exc), field="format") from None
    if on_progress:
        on_progress(total * passes, total * passes)
    return ExportResult(
        path=path,
        kind=kind,
        options=options,
        rows_read=total,
        records=written.records,
        bytes=written.bytes,
        sha256=written.sha256,
        seconds=time.monotonic() - started,
    )


def export_sft(
    *,
    snapshot: DatasetSnapshot,
    path: Path,
    fmt: str = "jsonl",
    kinds: list[str] | None = None,
    split: str = "all",
    on_progress: OnProgress | None = None,
) -> ExportResult:
    """Demonstrations, refusals and search-tool conversations as TRL `messages` (+ `tools`) rows."""
    options = {"format": fmt, "kinds": kinds, "split": split}
    return run_export(snapshot=snapshot, kind="sft", path=path, options=options, on_progress=on_progress)


def export_rm(
    *,
    snapshot: DatasetSnapshot,
    path: Path,
    fmt: str = "jsonl",
    mode: str = "pairwise",
    by: str = "labeler",
    margin: bool = False,
    split: str = "all",
    on_progress: OnProgress | None = None,
) -> ExportResult:
    """Rankings as pairwise preference rows or K-wise groups, per labeler or by consensus."""
    options = {"format": fmt, "mode": mode, "by": by, "margin": margin, "split": split}
    return run_export(snapshot=snapshot, kind="rm", path=path, options=options, on_progress=on_progress)


def export_prompts(
    *,
    snapshot: DatasetSnapshot,
    path: Path,
    fmt: str = "jsonl",
    kinds: list[str] | None = None,
    split: str = "all",
    on_progress: OnProgress | None = None,
) -> ExportResult:
    """Each prompt once, as TRL prompt-only rows for the RL stage."""
    options = {"format": fmt, "kinds": kinds, "split": split}
    return run_export(snapshot=snapshot, kind="prompts", path=path, options=options, on_progress=on_progress)
