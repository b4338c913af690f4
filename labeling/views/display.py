"""How labeling pages show conversations and read their query strings."""

import json
from typing import Any

from core.markdown import render_chat_text


def conversation(messages_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages ready to show: markdown rendered safely, tool calls and results as text."""
    shown = []
    for m in messages_:
        calls = [
            {
                "name": (call.get("function") or {}).get("name", ""),
                "arguments": _pretty((call.get("function") or {}).get("arguments", {})),
            }
            for call in m.get("tool_calls") or []
        ]
        content = m.get("content") or ""
        tool = m.get("role") == "tool"
        results = _search_results(content) if tool else None
        shown.append(
            {
                "role": m.get("role", ""),
                "html": render_chat_text(content) if not tool and content else "",
                "text": _pretty(content) if tool and results is None else "",
                "results": results or [],
                "tool_calls": calls,
            }
        )
    return shown


def _search_results(content: Any) -> list[dict[str, Any]] | None:
    """A search tool's result as the documents it returned (their text on its own lines), or None when the
    content is something else. Shown as JSON, a document's line breaks would read as "\n"."""
    try:
        value = json.loads(content) if isinstance(content, str) else content
    except ValueError:
        return None
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(r, dict) and isinstance(r.get("text"), str) for r in value):
        return None
    return [
        {
            "ref": r.get("ref", ""),
            "title": str(r.get("title", "")),
            "url": str(r.get("url", "")),
            "text": r["text"],
        }
        for r in value
    ]


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def query_int(value: str | None, default: int, *, low: int = 1, high: int = 10**6) -> int:
    """A number from the query string, clamped to [low, high]; anything else is the default."""
    try:
        number = int(value or default)
    except ValueError:
        return default
    return min(high, max(low, number))
