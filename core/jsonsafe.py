"""JSON from outside Coach: parsed by orjson, bounded in depth, and storable in Postgres.

orjson refuses NaN, infinities (1e400, a 5,001-digit number) and lone surrogates (\\ud800) as it parses
and never recurses in Python. What it accepts can still be nested 1,000 deep or hold U+0000, which
Postgres text and jsonb cannot store; `problem` finds both without recursion. Every JSON endpoint, form
field and upload line goes through here, so one refusal reads the same everywhere.
"""

import math
from typing import Any

import orjson

from core.errors import DomainError

MAX_DEPTH = 64  # the deepest a message, a tools schema or a setting needs is about 10


class JSONRefused(DomainError):
    code = "invalid_json"


def _at(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out[:80]


def problem(value: Any, *, keep_nul: bool = False) -> tuple[str, str] | None:
    """(where, what) for the first part of a parsed JSON value Coach cannot keep; None when it is fine.

    `where` is a path such as "messages[2].content" ("" for the value itself).
    """
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return _at(path[:MAX_DEPTH]), f"is nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, str):
            if not keep_nul and "\x00" in item:
                return _at(path), "holds a NUL character (\\u0000), which cannot be stored"
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return _at(path), "holds a lone surrogate (such as \\ud800), which is not text"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return _at(path), "holds NaN or an infinite number"
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    return _at(path), "has a key that is not a string"
                if not keep_nul and "\x00" in key:
                    return _at(path), "has a key holding a NUL character (\\u0000)"
                stack.append((child, (*path, key)))
        elif isinstance(item, list | tuple):
            stack.extend((child, (*path, i)) for i, child in enumerate(item))
    return None


def checked(value: Any, *, field: str | None = None, keep_nul: bool = False) -> Any:
    """`value` when Coach can keep it, else JSONRefused naming the field (the top key when not given)."""
    found = problem(value, keep_nul=keep_nul)
    if found is None:
        return value
    where, what = found
    name = field or where.split(".")[0].split("[")[0] or None
    raise JSONRefused(f"{where or field or 'the JSON'} {what}", field=name)


def loads(data: str | bytes, *, field: str | None = None, keep_nul: bool = False) -> Any:
    """Parse JSON text, refusing what orjson refuses and what `problem` finds, with a short message."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}" if exc.lineno > 1 else f"column {exc.colno}"
        raise JSONRefused(f"invalid JSON: {exc.msg} at {where}", field=field) from None
    return checked(value, field=field, keep_nul=keep_nul)
