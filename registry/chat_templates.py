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

import json
from collections.abc import Callable
from pathlib import Path
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


# --- templates on disk, rendered with jinja2 alone (the web process has no transformers) -------------

# Written for Coach in the style of common stock templates (none carries generation markers).
BUILTIN_TEMPLATES: dict[str, str] = {
    # turns between <|im_start|>role and <|im_end|>
    "chatml": (
        "{%- for m in messages -%}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{%- endfor -%}"
        "{%- if add_generation_prompt -%}<|im_start|>assistant\n{%- endif -%}"
    ),
    # a header per turn, a blank line, the content, an end-of-turn marker
    "header": (
        "{{- bos_token -}}{%- for m in messages -%}<|start|>{{ m['role'] }}<|sep|>\n\n{{ m['content'] }}"
        "<|end|>{%- endfor -%}{%- if add_generation_prompt -%}<|start|>assistant<|sep|>\n\n{%- endif -%}"
    ),
    # plain role labels, for base models whose tokenizer has no special tokens
    "plain": (
        "{%- for m in messages -%}{{ m['role'] | capitalize }}: {{ m['content'] }}\n\n{%- endfor -%}"
        "{%- if add_generation_prompt -%}Assistant:{%- endif -%}"
    ),
}
TEMPLATE_FILE = "chat_template.jinja"


def read_chat_template(model_dir: str | Path) -> str | None:
    """The model's chat template: chat_template.jinja, else tokenizer_config.json's (its default one)."""
    directory = Path(model_dir)
    if (directory / TEMPLATE_FILE).is_file():
        return (directory / TEMPLATE_FILE).read_text()
    config = _tokenizer_config(directory)
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: the default one
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    return template if isinstance(template, str) and template.strip() else None


def _tokenizer_config(directory: Path) -> dict[str, Any]:
    path = directory / "tokenizer_config.json"
    try:
        config = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


def _generation_extension() -> Any:
    """`{% generation %}...{% endgeneration %}` renders its body (the markers only matter to a mask)."""
    from jinja2 import nodes
    from jinja2.ext import Extension

    class Generation(Extension):
        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    return Generation


def jinja_render(template: str, model_dir: str | Path | None = None) -> Render:
    """Render a chat template as transformers does (sandboxed jinja2, tojson, raise_exception)."""
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols", _generation_extension()]
    )
    env.filters["tojson"] = lambda value, indent=None: json.dumps(value, indent=indent, ensure_ascii=False)
    env.globals["raise_exception"] = raise_exception
    compiled = env.from_string(template)
    config = _tokenizer_config(Path(model_dir)) if model_dir else {}

    def token(name: str) -> str:
        value = config.get(name) or ""
        return value.get("content", "") if isinstance(value, dict) else str(value)

    def render(messages: list[dict[str, Any]], generation_prompt: bool) -> str:
        if not messages and not generation_prompt:
            return ""
        return compiled.render(
            messages=messages,
            add_generation_prompt=generation_prompt,
            bos_token=token("bos_token"),
            eos_token=token("eos_token"),
            tools=None,
        )

    return render


def chat_template_problem(
    model_dir: str | Path, *, template: str | None = None, name: str = ""
) -> str | None:
    """Why SFT cannot mark assistant turns with this model's template (or the one given), or None."""
    text = template if template is not None else read_chat_template(model_dir)
    label = name or f"of {model_dir}"
    if text is None:
        return f"the model at {model_dir} has no chat template: attach one (attach_chat_template)"
    try:
        render = jinja_render(text, model_dir)
    except Exception as exc:  # a template jinja2 cannot compile
        return f"the chat template {label} does not compile: {exc}"
    return template_problem(render, template=label)
