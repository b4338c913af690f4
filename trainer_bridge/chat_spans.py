"""Where the assistant's turns sit in a rendered chat, found without `{% generation %}` markers.

A stock chat template renders a conversation as one string. Rendering its prefixes shows which
characters each assistant turn adds: the turn starts where `messages[:i]` rendered with the
generation prompt ends, and ends where `messages[:i+1]` ends (trailing whitespace the template puts
between turns is left out, as a generation-marked template leaves it out). This works for any
template that renders a prefix of a conversation as a prefix of its rendering; a template that does
not (one that rewrites earlier turns once a later one exists) is refused by name.

Torch-free: the web process checks a template with jinja2 alone; the training code maps these
character spans to tokens with the tokenizer's offsets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Render = Callable[[list[dict[str, Any]], bool], str]  # (messages, add_generation_prompt) -> text

# A conversation that exercises what templates differ on: a system turn, two exchanges.
PROBE_CHAT: list[dict[str, Any]] = [
    {"role": "system", "content": "You are brief."},
    {"role": "user", "content": "Name a colour."},
    {"role": "assistant", "content": "Blue."},
    {"role": "user", "content": "Another one?"},
    {"role": "assistant", "content": "Green."},
]


class TemplateUnfit(ValueError):
    """The chat template cannot show where assistant turns are; the message names the template."""


def assistant_char_spans(
    render: Render, messages: list[dict[str, Any]], *, template: str
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered chat and the [start, end) character span of every assistant turn in it."""
    if not any(m.get("role") == "assistant" for m in messages):
        raise ValueError("an SFT example needs at least one assistant message")
    full = render(messages, False)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        before = render(messages[:i], True)
        through = render(messages[: i + 1], False)
        if not through.startswith(before) or not full.startswith(through):
            where = (
                "the conversation before it" if not through.startswith(before) else "the whole conversation"
            )
            raise TemplateUnfit(
                f"the chat template {template} cannot mark assistant turns: rendering messages 1-{i + 1} "
                f"is not a prefix of rendering {where} (the template rewrites earlier turns); attach a "
                "template that renders a conversation's prefix as a prefix"
            )
        end = len(through.rstrip())
        if end <= len(before):
            continue  # an empty turn (e.g. a tool call the template does not render) adds nothing
        spans.append((len(before), end))
    return full, spans


def template_problem(render: Render, *, template: str) -> str | None:
    """Why the template cannot be used for SFT, or None when it marks the probe chat's assistant turns."""
    try:
        full, spans = assistant_char_spans(render, PROBE_CHAT, template=template)
    except TemplateUnfit as exc:
        return str(exc)
    except Exception as exc:  # a template that does not render at all
        return f"the chat template {template} does not render a conversation: {exc}"
    texts = [full[start:end] for start, end in spans]
    if len(texts) != 2 or "Blue." not in texts[0] or "Green." not in texts[1]:
        return f"the chat template {template} does not render each assistant turn's content"
    if any(t in "".join(texts) for t in ("Name a colour.", "You are brief.")):
        return f"the chat template {template} puts other turns inside an assistant turn"
    return None
