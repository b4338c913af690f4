"""Validation and hashing of conversations in HF chat `messages` form."""

import hashlib
import json
from typing import Any

ROLES = {"system", "user", "assistant", "tool"}


class InvalidConversation(ValueError):
    pass


def validate_messages(messages: Any, *, ends_with: set[str] | None = None) -> list[dict[str, Any]]:
    """Return the messages if they form a valid conversation, else raise with the reason."""
    if not isinstance(messages, list) or not messages:
        raise InvalidConversation("messages must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidConversation(f"message {i} must be an object")
        role = message.get("role")
        if role not in ROLES:
            raise InvalidConversation(f"message {i} has role {role!r}; expected one of {sorted(ROLES)}")
        content = message.get("content", "")
        tool_calls = message.get("tool_calls")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise InvalidConversation(f"message {i} content must be a string")
        if tool_calls is not None:
            if role != "assistant":
                raise InvalidConversation(f"message {i}: only assistant messages carry tool_calls")
            _validate_tool_calls(tool_calls, i)
        elif not content.strip():
            raise InvalidConversation(f"message {i} ({role}) is empty")
        extra = set(message) - {"role", "content", "tool_calls", "name", "tool_call_id"}
        if extra:
            raise InvalidConversation(f"message {i} has unknown keys {sorted(extra)}")
    if ends_with and messages[-1]["role"] not in ends_with:
        raise InvalidConversation(f"the last message must be from {' or '.join(sorted(ends_with))}")
    return messages


def _validate_tool_calls(tool_calls: Any, i: int) -> None:
    if not isinstance(tool_calls, list) or not tool_calls:
        raise InvalidConversation(f"message {i}: tool_calls must be a non-empty list")
    for call in tool_calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidConversation(f"message {i}: each tool call needs function.name")
        if not isinstance(function.get("arguments", {}), dict | str):
            raise InvalidConversation(f"message {i}: tool call arguments must be an object")


def content_hash(messages: list[dict[str, Any]]) -> str:
    canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """The last user turn, for lists and previews."""
    for message in reversed(messages):
        if message["role"] == "user":
            return message.get("content") or ""
    return ""
