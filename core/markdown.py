"""Markdown written by labelers, prompts and model answers, rendered as safe HTML."""

from dataclasses import dataclass
from functools import lru_cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

# Raw HTML in the source stays text (html=False); nh3 then drops anything a renderer bug could let through.
_md = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
# Chat text (prompts, answers, demonstrations) keeps every line break as written, as a chat UI shows it.
_chat_md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table").enable("strikethrough")
_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
# Private-use characters that mark inserted and removed passages in a document before it is rendered
# (guidelines.diff); they become <ins> and <del> once the markdown is HTML, then the result is cleaned again.
INS_OPEN, INS_CLOSE, DEL_OPEN, DEL_CLOSE = "\ue000", "\ue001", "\ue002", "\ue003"
MARKERS = INS_OPEN + INS_CLOSE + DEL_OPEN + DEL_CLOSE
_MARKED = {INS_OPEN: "<ins>", INS_CLOSE: "</ins>", DEL_OPEN: '<del class="removed">', DEL_CLOSE: "</del>"}


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> SafeString:
    """A document (a guideline): markdown to sanitized HTML, where a single line break joins lines."""
    return _clean(_md.render(text or ""))


@lru_cache(maxsize=4096)
def render_chat_text(text: str) -> SafeString:
    """Conversation text (a prompt, an answer, a reply): markdown with every line break kept, sanitized."""
    return _clean(_chat_md.render(text or ""))


def render_marked_markdown(text: str) -> SafeString:
    """A document whose inserted and removed passages are marked (INS_OPEN ... DEL_CLOSE): markdown, then
    the marks as <ins> and <del>, cleaned a second time so that a mark crossing a tag is nested again."""
    html = str(_clean(_md.render(text or "")))
    for mark, tag in _MARKED.items():
        html = html.replace(mark, tag)
    return _clean(html, tags=_TAGS | {"ins"}, attributes=_ATTRIBUTES | {"del": {"class"}})


def _clean(html: str, tags: set[str] = _TAGS, attributes: dict[str, set[str]] = _ATTRIBUTES) -> SafeString:
    """No raw HTML, no scripts, links that open nothing on their own."""
    return mark_safe(
        nh3.clean(
            html,
            tags=tags,
            attributes=attributes,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
            filter_style_properties={"text-align"},
        )
    )


@dataclass(frozen=True)
class Heading:
    level: int  # 1 for "#", 6 for "######"
    title: str
    line: int  # the first source line of the heading, counted from 0


def markdown_headings(text: str) -> list[Heading]:
    """The headings of a markdown document as the renderer sees them (none from inside code blocks)."""
    tokens = _md.parse(text or "")
    return [
        Heading(level=int(token.tag[1]), title=tokens[i + 1].content, line=token.map[0])
        for i, token in enumerate(tokens)
        if token.type == "heading_open" and token.map is not None
    ]
