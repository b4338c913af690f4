"""Validation and hashing of conversations in HF chat `messages` form."""

import hashlib
import json
from typing import Any

ROLES = {"system", "user", "assistant", "tool"}
# Bounds that keep one request cheap to check and store; a real conversation is far inside them.
MAX_MESSAGES = 200
MAX_CONTENT_CHARS = 200_000  # about 50k tokens in one turn
MAX_TOOL_CALLS = 16  # per assistant turn
MAX_NAME_CHARS = 200  # a tool's name, a tool call's id
MAX_TOOLS = 32
MAX_TOOLS_CHARS = 50_000  # the whole tools schema as JSON


class InvalidConversation(ValueError):
    pass


def validate_messages(messages: Any, *, ends_with: set[str] | None = None) -> list[dict[str, Any]]:
    """Return the messages if they form a valid conversation, else raise with the reason."""
    if not isinstance(messages, list) or not messages:
        raise InvalidConversation("messages must be a non-empty list")
    if len(messages) > MAX_MESSAGES:
        raise InvalidConversation(
            f"a conversation holds at most {MAX_MESSAGES} messages, not {len(messages)}"
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidConversation(f"message {i} must be an object")
        role = message.get("role")
        if role not in ROLES:
            raise InvalidConversation(
                f"message {i} has role {str(role)[:20]!r}; expected one of {sorted(ROLES)}"
            )
        content = message.get("content", "")
        tool_calls = message.get("tool_calls")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise InvalidConversation(f"message {i} content must be a string")
        if len(content) > MAX_CONTENT_CHARS:
            raise InvalidConversation(f"message {i} holds more than {MAX_CONTENT_CHARS:,} characters")
        for key in ("name", "tool_call_id"):
            value = message.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > MAX_NAME_CHARS):
                raise InvalidConversation(
                    f"message {i}: {key} must be text of at most {MAX_NAME_CHARS} characters"
                )
        if tool_calls is not None:
            if role != "assistant":
                raise InvalidConversation(f"message {i}: only assistant messages carry tool_calls")
            _validate_tool_calls(tool_calls, i)
        elif not content.strip():
            raise InvalidConversation(f"message {i} ({role}) is empty")
        extra = set(message) - {"role", "content", "tool_calls", "name", "tool_call_id"}
        if extra:
            raise InvalidConversation(f"message {i} has unknown keys {sorted(extra)[:5]}")
    if ends_with and messages[-1]["role"] not in ends_with:
        raise InvalidConversation(f"the last message must be from {' or '.join(sorted(ends_with))}")
    return messages


def _validate_tool_calls(tool_calls: Any, i: int) -> None:
    if not isinstance(tool_calls, list) or not tool_calls:
        raise InvalidConversation(f"message {i}: tool_calls must be a non-empty list")
    if len(tool_calls) > MAX_TOOL_CALLS:
        raise InvalidConversation(f"message {i}: at most {MAX_TOOL_CALLS} tool calls in one turn")
    for call in tool_calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidConversation(f"message {i}: each tool call needs function.name")
        if len(function["name"]) > MAX_NAME_CHARS:
            raise InvalidConversation(f"message {i}: a tool's name holds at most {MAX_NAME_CHARS} characters")
        arguments = function.get("arguments", {})
        if not isinstance(arguments, dict | str):
            raise InvalidConversation(f"message {i}: tool call arguments must be an object")
        if len(json.dumps(arguments)) > MAX_CONTENT_CHARS:
            raise InvalidConversation(
                f"message {i}: tool call arguments are longer than {MAX_CONTENT_CHARS:,}"
            )


def tool_names(tools: Any) -> set[str]:
    """The function names a tools schema declares; raise when it is not a short list of function tools."""
    if not isinstance(tools, list):
        raise InvalidConversation("tools must be a list of function tools")
    if len(tools) > MAX_TOOLS or len(json.dumps(tools)) > MAX_TOOLS_CHARS:
        raise InvalidConversation(f"tools hold at most {MAX_TOOLS} tools and {MAX_TOOLS_CHARS:,} characters")
    names = set()
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise InvalidConversation(f'tools[{i}] must be {{"type": "function", "function": {{...}}}}')
        name = function.get("name")
        if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
            raise InvalidConversation(f"tools[{i}].function.name must be a name")
        names.add(name)
    return names


def content_hash(messages: list[dict[str, Any]]) -> str:
    canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """The last user turn, for lists and previews."""
    for message in reversed(messages):
        if message["role"] == "user":
            return message.get("content") or ""
    return ""
