"""Export a frozen snapshot (SFT conversations, reward-model rankings, or prompts) or a practice set (its
problems, or a run's solutions) to a file, laid out for TRL, verl or OpenRLHF.

The rows stream from a server-side cursor and the file is written as it goes, so memory stays flat
however big the snapshot; the same source and options always give byte-identical files.
"""

import functools
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
from curation.models import DatasetSnapshot, PracticeSet
from curation.selectors import snapshot_row_count, snapshot_rows
from curation.snapshots import snapshot_consensus_rule
from curation.splits import SPLITS
from labeling.selectors.model_drafts import DRAFTED_KINDS
from trainer_bridge.exports import practice, records
from trainer_bridge.exports.files import (
    FORMATS,
    EmptyOutput,
    ParquetSchemaConflict,
    Written,
    json_line,
    write_jsonl,
    write_parquet,
)
from trainer_bridge.models import JobStatus, PracticeRun

KINDS = ("sft", "rm", "prompts")  # of a snapshot
PRACTICE_KINDS = ("problems", "sft", "rm")  # of a practice set
# Whose trainer reads the file. TRL's is Coach's own; verl reads Parquet only.
LAYOUTS = ("trl", "verl", "openrlhf")
_LAYOUTS_OF = {
    "snapshot": {"sft": ("trl",), "rm": ("trl", "openrlhf"), "prompts": LAYOUTS},
    "practice": {"problems": LAYOUTS, "sft": ("trl",), "rm": ("trl", "openrlhf")},
}
SFT_KINDS = ("demonstration", "refusal", "search", "chat")
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
    """Checked options of a snapshot export, with defaults filled in; the same dict always names the same
    file."""
    raw = dict(raw or {})
    if kind not in KINDS:
        raise DomainError(f"an export is one of {list(KINDS)}", field="kind")
    options = _common_options("snapshot", kind, raw)
    if kind == "rm":
        options["mode"] = _choice(raw.pop("mode", None) or "pairwise", RM_MODES, "mode")
        options["by"] = _choice(raw.pop("by", None) or "labeler", RM_BY, "by")
        options["margin"] = bool(raw.pop("margin", False))
        if options["margin"] and options["mode"] != "pairwise":
            raise DomainError("a margin belongs to pairwise rows", field="margin")
        if options.get("layout") == "openrlhf" and options["mode"] != "pairwise":
            raise DomainError("OpenRLHF reads pairwise rows (chosen, rejected)", field="mode")
        # Shown only when asked for, so the options (and file names) of other exports stay as they were.
        if _flag(raw.pop("edited_over_draft", False), "edited_over_draft"):
            if options["mode"] != "pairwise":
                raise DomainError("edited-over-draft pairs are pairwise rows", field="edited_over_draft")
            options["edited_over_draft"] = True
    else:
        allowed = SFT_KINDS if kind == "sft" else PROMPT_KINDS
        kinds = raw.pop("kinds", None) or list(allowed)
        if isinstance(kinds, str):
            kinds = [k.strip() for k in kinds.split(",") if k.strip()]
        if unknown := sorted(set(kinds) - set(allowed)):
            raise DomainError(f"{kind} exports take kinds from {list(allowed)}, not {unknown}", field="kinds")
        options["kinds"] = sorted(set(kinds))
        if kind == "sft" and _flag(raw.pop("skip_unchanged_drafts", False), "skip_unchanged_drafts"):
            options["skip_unchanged_drafts"] = True
    _refuse_unused(kind, raw)
    return options


def _flag(value: Any, name: str) -> bool:
    """A yes/no option: a boolean, or its spelling in a form or a command line."""
    if isinstance(value, bool):
        return value
    if value in (None, "", 0, "0", "false", "no", "off"):
        return False
    if value in (1, "1", "true", "yes", "on"):
        return True
    raise DomainError(f"{name} is true or false", field=name)


def practice_export_options(kind: str, raw: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Checked options of a practice-set export (format, split, layout), with defaults filled in."""
    raw = dict(raw or {})
    if kind not in PRACTICE_KINDS:
        raise DomainError(f"a practice-set export is one of {list(PRACTICE_KINDS)}", field="kind")
    options = _common_options("practice", kind, raw)
    _refuse_unused(kind, raw)
    return options


def _common_options(source: str, kind: str, raw: dict[str, Any]) -> dict[str, Any]:
    """format and split, and the layout when it is not TRL's (so the options, and the file names, of the
    exports made before layouts existed stay what they were)."""
    layouts = _LAYOUTS_OF[source][kind]
    layout = raw.pop("layout", None) or "trl"
    if layout not in layouts:
        raise DomainError(f"a {kind} export is laid out for one of {list(layouts)}", field="layout")
    fmt = raw.pop("format", None) or ("parquet" if layout == "verl" else "jsonl")
    options: dict[str, Any] = {
        "format": _choice(fmt, FORMATS, "format"),
        "split": _choice(raw.pop("split", None) or "all", ("all", *SPLITS), "split"),
    }
    if layout == "verl" and options["format"] != "parquet":
        raise DomainError("verl reads Parquet files: export parquet", field="format")
    if layout != "trl":
        options["layout"] = layout
    return options


def _refuse_unused(kind: str, raw: dict[str, Any]) -> None:
    if unused := {k: v for k, v in raw.items() if v not in (None, False, "", [])}:
        raise DomainError(
            f"options {sorted(unused)} do not apply to a {kind} export", field=sorted(unused)[0]
        )


def _choice(value: Any, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise DomainError(f"{name} must be one of {list(allowed)}", field=name)
    return value


def default_export_path(snapshot: DatasetSnapshot, kind: str, options: dict[str, Any]) -> Path:
    """Where an export of these options goes under EXPORT_ROOT: one file per snapshot and options."""
    parts = [slugify(snapshot.name) or "snapshot", kind]
    if kind == "rm":
        parts += [options["mode"], options["by"]]
    return _export_path(f"snapshot-{snapshot.pk}", parts, options, options)


def check_practice_run(practice_set: PracticeSet, run: PracticeRun | None, kind: str) -> None:
    """A solutions export needs a run; a run named must be a finished run of this set."""
    if kind != "problems" and run is None:
        raise DomainError(f"a {kind} export is made from a practice run: name one", field="run")
    if run is not None and (run.practice_set_id != practice_set.pk or run.status != JobStatus.DONE):
        raise DomainError(f"run {run.pk} is not a finished run of {practice_set.name}", field="run")


def practice_export_path(
    practice_set: PracticeSet, run: PracticeRun | None, kind: str, options: dict[str, Any]
) -> Path:
    """Where a practice-set export goes under EXPORT_ROOT: one file per set, run and options."""
    parts = [slugify(practice_set.name) or "practice", kind]
    if run is not None:
        parts.append(f"run{run.pk}")
    keyed = options if run is None else options | {"run": run.pk}
    return _export_path(f"practice-set-{practice_set.pk}", parts, options, keyed)


def _export_path(folder: str, parts: list[str], options: dict[str, Any], keyed: dict[str, Any]) -> Path:
    key = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:10]
    if "layout" in options:
        parts.append(options["layout"])
    if options["split"] != "all":
        parts.append(options["split"])
    extension = "jsonl" if options["format"] == "jsonl" else "parquet"
    return Path(settings.EXPORT_ROOT) / folder / f"{'-'.join(parts)}-{key}.{extension}"


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
    drafts = bool(options.get("edited_over_draft"))
    if drafts:
        row_kinds = ["ranking", *DRAFTED_KINDS]
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

    layout = options.get("layout", "trl")
    data_source = f"coach/snapshot/{snapshot.name}"

    def make_records() -> Iterator[dict[str, Any]]:
        if kind == "sft":
            return records.sft_records(
                rows(), skip_unchanged_drafts=bool(options.get("skip_unchanged_drafts"))
            )
        if kind == "prompts":
            if layout == "verl":
                return records.verl_prompt_records(rows(), data_source=data_source)
            if layout == "openrlhf":
                return records.openrlhf_prompt_records(rows(), data_source=data_source)
            return records.prompt_records(rows())
        if options["mode"] == "kwise":
            return records.kwise_records(rows(), by=options["by"], consensus=consensus)
        pairs = functools.partial(
            records.pair_records,
            by=options["by"],
            margin=options["margin"],
            consensus=consensus,
            layout=layout,
        )
        if drafts:
            edited = functools.partial(
                records.edited_over_draft_records, margin=options["margin"], layout=layout
            )
            return records.with_edited_over_draft(rows(), pairs, edited)
        return pairs(rows())

    try:
        with transaction.atomic():  # server-side cursors stream rows only inside a transaction
            written: Written
            if options["format"] == "parquet":
                written = write_parquet(path, make_records)
            elif kind == "rm" and options["mode"] == "pairwise":
                pair_lines = functools.partial(
                    records.pair_lines,
                    by=options["by"],
                    margin=options["margin"],
                    consensus=consensus,
                    layout=layout,
                )
                if drafts:
                    edited = functools.partial(
                        records.edited_over_draft_lines, margin=options["margin"], layout=layout
                    )
                    lines = records.with_edited_over_draft(rows(), pair_lines, edited)
                else:
                    lines = pair_lines(rows())
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


def run_practice_export(
    *,
    practice_set: PracticeSet,
    run: PracticeRun | None,
    kind: str,
    path: Path,
    options: Mapping[str, Any] | None = None,
    on_progress: OnProgress | None = None,
) -> ExportResult:
    """A practice set's problems (with the run's pass rates, if a run is given), or a run's verified
    solutions (sft: the correct ones; rm: correct over incorrect), in the problems of one split or all."""
    started = time.monotonic()
    options = practice_export_options(kind, options)
    check_practice_run(practice_set, run, kind)
    split = None if options["split"] == "all" else options["split"]
    problems = practice.problems_of(practice_set, split=split)
    if not problems:
        where = "" if split is None else f" in the {split} split"
        raise ExportEmpty(f"practice set {practice_set.name} has no problems{where}", field="split")
    layout = options.get("layout", "trl")
    if on_progress:
        on_progress(0, len(problems))

    def make_records() -> Iterator[dict[str, Any]]:
        if kind == "problems":
            return practice.problem_records(
                problems, layout=layout, data_source=f"coach/practice/{practice_set.name}", run=run
            )
        assert run is not None
        if kind == "sft":
            return practice.solution_sft_records(problems, run=run)
        return practice.solution_pair_records(problems, run=run, layout=layout)

    try:
        written = (
            write_parquet(path, make_records)
            if options["format"] == "parquet"
            else write_jsonl(path, map(json_line, make_records()))
        )
    except EmptyOutput:
        what = "correct solutions" if kind == "sft" else "problems with both a correct and a wrong solution"
        raise ExportEmpty(f"run {run.pk if run else ''} has no {what}", field="run") from None
    except ParquetSchemaConflict as exc:
        raise ExportFailed(str(exc), field="format") from None
    if on_progress:
        on_progress(len(problems), len(problems))
    return ExportResult(
        path=path,
        kind=kind,
        options=options,
        rows_read=len(problems),
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
    layout: str = "trl",
    on_progress: OnProgress | None = None,
) -> ExportResult:
    """Rankings as pairwise preference rows or K-wise groups, per labeler or by consensus."""
    options = {"format": fmt, "mode": mode, "by": by, "margin": margin, "split": split, "layout": layout}
    return run_export(snapshot=snapshot, kind="rm", path=path, options=options, on_progress=on_progress)


def export_prompts(
    *,
    snapshot: DatasetSnapshot,
    path: Path,
    fmt: str | None = None,
    kinds: list[str] | None = None,
    split: str = "all",
    layout: str = "trl",
    on_progress: OnProgress | None = None,
) -> ExportResult:
    """Each prompt once, as prompt-only rows for the RL stage (TRL's, verl's or OpenRLHF's)."""
    options = {"format": fmt, "kinds": kinds, "split": split, "layout": layout}
    return run_export(snapshot=snapshot, kind="prompts", path=path, options=options, on_progress=on_progress)
