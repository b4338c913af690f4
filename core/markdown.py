"""Markdown written by labelers, prompts and model answers, rendered as safe HTML."""

from functools import lru_cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

# Raw HTML in the source stays text (html=False); nh3 then drops anything a renderer bug could let through.
_md = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> SafeString:
    """Render markdown to sanitized HTML: no raw HTML, no scripts, links that open nothing on their own."""
    html = _md.render(text or "")
    return mark_safe(
        nh3.clean(
            html,
            tags=_TAGS,
            attributes=_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
            filter_style_properties={"text-align"},
        )
    )
