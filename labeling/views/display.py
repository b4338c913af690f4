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
        shown.append(
            {
                "role": m.get("role", ""),
                "html": render_chat_text(content) if m.get("role") != "tool" and content else "",
                "text": _pretty(content) if m.get("role") == "tool" else "",
                "tool_calls": calls,
            }
        )
    return shown


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
