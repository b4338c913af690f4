"""Writing an export file: to `<path>.<unique>.tmp`, renamed into place only once complete.

A killed or failed export therefore never leaves a half file at `path` (a previous complete file, if
any, stays as it was). JSONL streams line by line; Parquet makes two passes over the records, the
first to learn the schema (nested JSON such as tool-call arguments varies between rows), so that both
passes run in constant memory.
"""

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

FORMATS = ("jsonl", "parquet")
_FLUSH_BYTES = 4 * 1024 * 1024
_PARQUET_CHUNK = 2000


class ParquetSchemaConflict(ValueError):
    pass


class EmptyOutput(ValueError):
    """Nothing to write: no file is made (and an existing one is left alone)."""


@dataclass(frozen=True)
class Written:
    records: int
    bytes: int
    sha256: str


def json_line(record: dict[str, Any]) -> bytes:
    """One JSONL line: compact, UTF-8, keys in the record's order."""
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`; moved onto `path` (fsynced first) only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        with open(tmp, "rb") as done:
            os.fsync(done.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_jsonl(path: Path, lines: Iterable[bytes]) -> Written:
    """Write lines (each a JSON document ending in a newline) atomically; hashes the bytes as they go."""
    digest = hashlib.sha256()
    count = size = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        buffer: list[bytes] = []
        buffered = 0
        for line in lines:
            buffer.append(line)
            buffered += len(line)
            count += 1
            if buffered >= _FLUSH_BYTES:
                size += _flush(out, digest, buffer)
                buffer, buffered = [], 0
        size += _flush(out, digest, buffer)
        out.flush()
        if count == 0:
            raise EmptyOutput(path)
    return Written(records=count, bytes=size, sha256=digest.hexdigest())


def _flush(out: IO[bytes], digest: Any, buffer: list[bytes]) -> int:
    data = b"".join(buffer)
    out.write(data)
    digest.update(data)
    return len(data)


def write_parquet(path: Path, records: Callable[[], Iterable[dict[str, Any]]]) -> Written:
    """Write records atomically as Parquet; `records()` is called twice (schema pass, then write pass)."""
    import pyarrow as pa  # only exports that ask for Parquet load pyarrow
    import pyarrow.parquet as pq

    schemas = []
    for chunk in _chunks(records(), _PARQUET_CHUNK):
        # pa.array unites the keys of every record (from_pylist would take the first record's only)
        try:
            schemas.append(pa.schema(list(pa.array(chunk).type)))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ParquetSchemaConflict(
                f"rows disagree on a field's type ({exc}); export JSONL instead"
            ) from None
        if len(schemas) >= 64:  # keep the list short: fold what we have into one schema
            schemas = [_unify(schemas)]
    if not schemas:
        raise EmptyOutput(path)
    schema = _unify(schemas)

    count = 0
    with atomic_path(path) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for chunk in _chunks(records(), _PARQUET_CHUNK):
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                count += len(chunk)
        size, sha = _file_digest(tmp)
    return Written(records=count, bytes=size, sha256=sha)


def _unify(schemas: list[Any]) -> Any:
    import pyarrow as pa

    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ParquetSchemaConflict(
            f"rows disagree on a field's type ({exc}); export JSONL instead"
        ) from None


def _file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
