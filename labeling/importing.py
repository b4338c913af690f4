"""Parsing and validation of prompt and candidate files (JSONL or CSV). Nothing here writes."""

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from core import jsonsafe
from core.forms import INT_MAX
from labeling.conversation import InvalidConversation, content_hash, validate_messages
from labeling.models import TaskKind

MAX_LINE_BYTES = 4 * 1024 * 1024
MAX_REPORTED_ERRORS = 1000
NUL_REFUSED = "holds a NUL character (\\u0000), which cannot be stored"


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str


@dataclass
class PromptRow:
    line: int
    messages: list[dict[str, Any]]
    content_hash: str
    external_id: str
    source: str
    metadata: dict[str, Any]
    task_kind: str | None


@dataclass
class CandidateRow:
    line: int
    prompt_external_id: str
    text: str
    model_name: str
    sample_index: int | None
    sampling_params: dict[str, Any]


@dataclass
class Parsed:
    rows: list[Any] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def detect_format(filename: str, explicit: str | None = None) -> str:
    fmt = (explicit or filename.rsplit(".", 1)[-1]).lower()
    if fmt in {"jsonl", "ndjson", "json"}:
        return "jsonl"
    if fmt == "csv":
        return "csv"
    raise ValueError(f"unknown file format {fmt!r}: use .jsonl or .csv")


def _records(stream: IO[bytes], fmt: str, errors: list[LineError]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, record) and add a LineError for each unreadable line."""
    if fmt != "csv":
        yield from read_jsonl(stream, errors)
        return
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        for record in reader:
            if None in record:
                errors.append(LineError(reader.line_num, "more fields than the header names"))
                continue
            if any("\x00" in cell for cell in [*record, *record.values()] if isinstance(cell, str)):
                errors.append(LineError(reader.line_num, NUL_REFUSED))
                continue
            yield reader.line_num, {k.strip(): v for k, v in record.items() if k is not None}
    except UnicodeDecodeError as exc:
        errors.append(LineError(reader.line_num + 1, f"not valid UTF-8 ({exc.reason})"))
    except csv.Error as exc:
        errors.append(LineError(reader.line_num, f"unreadable CSV: {exc}"))


def read_jsonl(
    stream: IO[bytes], errors: list[LineError], *, max_line_bytes: int | None = None, keep_nul: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of an uploaded JSONL file; a bad line becomes a
    LineError instead (too long, not UTF-8, not JSON, not an object, or what core.jsonsafe refuses).

    Postgres text and jsonb cannot store U+0000, and an upload stores what the file says or nothing, so
    such a line is refused, unless `keep_nul` (a caller that strips control characters itself).
    """
    limit = max_line_bytes or MAX_LINE_BYTES
    decoder = codecs.getincrementaldecoder("utf-8")()
    for number, raw in enumerate(stream, start=1):
        if len(raw) > limit:
            errors.append(LineError(number, f"line longer than {limit} bytes"))
            continue
        try:
            line = decoder.decode(raw, final=True).lstrip("\ufeff").strip()
        except UnicodeDecodeError as exc:
            errors.append(LineError(number, f"not valid UTF-8 ({exc.reason})"))
            decoder.reset()
            continue
        if not line:
            continue
        try:
            record = jsonsafe.loads(line, keep_nul=keep_nul)
        except jsonsafe.JSONRefused as exc:
            errors.append(LineError(number, exc.detail))
            continue
        if not isinstance(record, dict):
            errors.append(LineError(number, "each line must be a JSON object"))
            continue
        yield number, record


def _json_field(value: Any, name: str) -> Any:
    """CSV cells carry JSON as text; JSONL already has it parsed."""
    if isinstance(value, str) and value.strip():
        try:
            return jsonsafe.loads(value)
        except jsonsafe.JSONRefused as exc:
            raise ValueError(f"{name}: {exc.detail}") from None
    return value


def _text(record: dict[str, Any], key: str, limit: int = 200) -> str:
    value = record.get(key) or ""
    if not isinstance(value, str | int):
        raise ValueError(f"{key} must be a string")
    value = str(value).strip()
    if len(value) > limit:
        raise ValueError(f"{key} is longer than {limit} characters")
    return value


def parse_prompt_file(stream: IO[bytes], fmt: str, *, allowed_kinds: list[str]) -> Parsed:
    parsed = Parsed()
    seen_ids: dict[str, str] = {}
    for number, record in _records(stream, fmt, parsed.errors):
        try:
            parsed.rows.append(_prompt_row(number, record, allowed_kinds))
        except (ValueError, InvalidConversation) as exc:
            parsed.errors.append(LineError(number, str(exc)))
            continue
        row = parsed.rows[-1]
        if row.external_id:
            if seen_ids.get(row.external_id, row.content_hash) != row.content_hash:
                parsed.errors.append(
                    LineError(number, f"external_id {row.external_id!r} appears earlier with other content")
                )
            seen_ids[row.external_id] = row.content_hash
    if not parsed.rows and not parsed.errors:
        parsed.errors.append(LineError(0, "the file holds no prompts"))
    return parsed


def _prompt_row(number: int, record: dict[str, Any], allowed_kinds: list[str]) -> PromptRow:
    prompt, messages = record.get("prompt"), _json_field(record.get("messages"), "messages")
    if prompt and messages:
        raise ValueError("give either prompt or messages, not both")
    if not prompt and not messages:
        raise ValueError("missing prompt (text) or messages (conversation)")
    if prompt:
        if not isinstance(prompt, str):
            raise ValueError("prompt must be a string")
        messages = [{"role": "user", "content": prompt}]
        if system := record.get("system"):
            messages.insert(0, {"role": "system", "content": str(system)})
    validate_messages(messages, ends_with={"user", "tool"})
    metadata = _json_field(record.get("metadata") or {}, "metadata")
    if not isinstance(metadata, dict):
        raise ValueError("metadata must be an object")
    kind = _text(record, "task_kind") or None
    if kind is not None and kind not in allowed_kinds:
        raise ValueError(f"task_kind {kind!r} is not one of this project's kinds {allowed_kinds}")
    return PromptRow(
        line=number,
        messages=messages,
        content_hash=content_hash(messages),
        external_id=_text(record, "external_id"),
        source=_text(record, "source"),
        metadata=metadata,
        task_kind=kind,
    )


def parse_candidate_file(stream: IO[bytes], fmt: str) -> Parsed:
    parsed = Parsed()
    for number, record in _records(stream, fmt, parsed.errors):
        try:
            parsed.rows.append(_candidate_row(number, record))
        except ValueError as exc:
            parsed.errors.append(LineError(number, str(exc)))
    if not parsed.rows and not parsed.errors:
        parsed.errors.append(LineError(0, "the file holds no candidates"))
    return parsed


def _candidate_row(number: int, record: dict[str, Any]) -> CandidateRow:
    prompt_id = _text(record, "prompt_external_id")
    if not prompt_id:
        raise ValueError("missing prompt_external_id")
    text = record.get("text", record.get("answer"))
    if not isinstance(text, str) or not text.strip():
        raise ValueError("missing text (the candidate answer)")
    model_name = _text(record, "model") or "imported"
    index = record.get("sample_index")
    if index is None or index == "":
        index = None
    else:
        # A CSV cell is text; JSON gives a number. 1.7 or true is not an index (int() would truncate it).
        digits = index.strip() if isinstance(index, str) else None
        if digits is not None and digits.isascii() and digits.isdigit() and len(digits) <= 10:
            index = int(digits)
        if isinstance(index, bool) or not isinstance(index, int):
            raise ValueError("sample_index must be a whole number")
        if not 0 <= index <= INT_MAX:
            raise ValueError(f"sample_index must be between 0 and {INT_MAX}")
    params = _json_field(record.get("sampling_params") or {}, "sampling_params")
    if not isinstance(params, dict):
        raise ValueError("sampling_params must be an object")
    return CandidateRow(number, prompt_id, text, model_name, index, params)


KIND_NEEDS_CANDIDATES = {TaskKind.RANKING}
