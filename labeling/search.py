"""The search backend of search-tool conversations: Postgres full-text search over uploaded corpora.

Also the shape of what a search conversation stores: the tool schema, and the assistant `tool_calls`
plus `tool` messages in the HF chat format.
"""

import json
import re
from dataclasses import dataclass
from typing import IO, Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import F
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from core.errors import DomainError
from labeling.importing import LineError, read_jsonl
from labeling.models import SearchDocument

SEARCH_CONFIG = "english"
RESULTS_PER_SEARCH = 8
MAX_QUERY_CHARS = 300
# How much of a document the assistant reads in the tool result.
TOOL_RESULT_CHARS = 2000
MAX_TITLE_CHARS = 500
MAX_URL_CHARS = 2000

# Private-use characters mark the highlights in ts_headline output; stripped from uploads so that
# nothing in a document can forge a mark, and everything else is HTML-escaped.
_MARK_START, _MARK_STOP = "\ue000", "\ue001"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ue000\ue001]")
_CITATION = re.compile(r"\[(\d{1,3})\]")

SEARCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the document collection and return the most relevant passages.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "what to search for"}},
            "required": ["query"],
        },
    },
}


@dataclass(frozen=True)
class CorpusRow:
    line: int
    title: str
    url: str
    text: str


def parse_corpus_file(stream: IO[bytes]) -> tuple[list[CorpusRow], list[LineError]]:
    """Read JSONL lines {"title", "url", "text"}; every unreadable line becomes a LineError."""
    rows: list[CorpusRow] = []
    errors: list[LineError] = []
    for number, record in read_jsonl(stream, errors, keep_nul=True):  # _corpus_row drops control chars
        try:
            rows.append(_corpus_row(number, record))
        except ValueError as exc:
            errors.append(LineError(number, str(exc)))
    if not rows and not errors:
        errors.append(LineError(1, "the file holds no documents"))
    return rows, errors


def _corpus_row(number: int, record: dict[str, Any]) -> CorpusRow:
    if unknown := set(record) - {"title", "url", "text"}:
        raise ValueError(f"unknown keys {sorted(unknown)}; a document has title, url and text")
    values: dict[str, str] = {}
    for key, limit in (("title", MAX_TITLE_CHARS), ("url", MAX_URL_CHARS), ("text", None)):
        value = record.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"{key} must be a string")
        value = _CONTROL.sub(" ", value).strip()
        if limit is not None and len(value) > limit:
            raise ValueError(f"{key} is longer than {limit} characters")
        values[key] = value
    if not values["text"]:
        raise ValueError("text is empty")
    if not values["title"]:
        raise ValueError("title is empty")
    if values["url"] and not re.match(r"^https?://", values["url"]):
        raise ValueError("url must start with http:// or https://")
    return CorpusRow(line=number, **values)


def clean_query(query: str) -> str:
    """A query with its whitespace collapsed; empty, too long or holding a control character is refused."""
    query = " ".join(query.split())
    if not query:
        raise DomainError("write what to search for", field="query")
    if len(query) > MAX_QUERY_CHARS:
        raise DomainError(f"a query holds at most {MAX_QUERY_CHARS} characters", field="query")
    if _CONTROL.search(query):
        raise DomainError("a query cannot hold control characters such as NUL", field="query")
    return query


def search_documents(*, project_id: int, query: str, limit: int = RESULTS_PER_SEARCH) -> list[dict[str, Any]]:
    """The best-ranked documents of the project's corpora, each with a highlighted passage."""
    tsquery = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
    top = list(
        SearchDocument.objects.filter(corpus__project_id=project_id, search=tsquery)
        .annotate(rank=SearchRank(F("search"), tsquery))
        .order_by("-rank", "id")
        .values_list("id", flat=True)[:limit]
    )
    if not top:
        return []
    # Headlines only for the page of results: ts_headline re-parses each document.
    found = SearchDocument.objects.filter(pk__in=top).annotate(
        headline=SearchHeadline(
            "text",
            tsquery,
            config=SEARCH_CONFIG,
            start_sel=_MARK_START,
            stop_sel=_MARK_STOP,
            max_words=40,
            min_words=15,
            max_fragments=2,
            fragment_delimiter=" … ",
        )
    )
    by_id = {d.pk: d for d in found}
    return [
        {"id": d.pk, "title": d.title, "url": d.url, "headline": d.headline}
        for d in (by_id[i] for i in top if i in by_id)
    ]


def headline_text(headline: str) -> str:
    """A ts_headline passage as plain text, for the API."""
    return headline.replace(_MARK_START, "").replace(_MARK_STOP, "")


def headline_html(headline: str) -> SafeString:
    """Escape a ts_headline passage, then turn only our own marks into <mark>."""
    escaped = str(escape(headline))
    return mark_safe(escaped.replace(_MARK_START, "<mark>").replace(_MARK_STOP, "</mark>"))


def citations(text: str) -> set[int]:
    return {int(n) for n in _CITATION.findall(text)}


class InvalidSearchReply(ValueError):
    """`field` is what is at fault: the picks, or the answer's citations."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def ordered_picks(searches: list[dict[str, Any]], picks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Picks in citation order: by search, then by rank within the search; unknown picks are dropped."""
    position = {
        (i, result["id"]): (i, rank)
        for i, search in enumerate(searches)
        for rank, result in enumerate(search.get("results", []))
    }
    return sorted({p for p in picks if p in position}, key=lambda p: position[p])


def search_reply(
    *,
    searches: list[dict[str, Any]],
    picks: list[tuple[int, int]],
    documents: dict[int, SearchDocument],
    answer: str,
) -> list[dict[str, Any]]:
    """A search conversation's assistant turns: per search a tool call and its result, then the answer."""
    chosen = [p for p in ordered_picks(searches, picks) if p[1] in documents]
    if not chosen:
        raise InvalidSearchReply("pick at least one search result the assistant saw", field="picks")
    cited = citations(answer)
    if not cited:
        raise InvalidSearchReply(f"cite the results you used, as [1] to [{len(chosen)}]", field="content")
    if unknown := sorted(n for n in cited if not 1 <= n <= len(chosen)):
        raise InvalidSearchReply(
            f"citations {unknown[:10]} match no picked result; cite [1] to [{len(chosen)}]", field="content"
        )
    reply: list[dict[str, Any]] = []
    ref = 0
    for index in sorted({i for i, _ in chosen}):
        call_id = f"call_{len(reply) // 2 + 1}"
        results = []
        for _, document_id in (p for p in chosen if p[0] == index):
            ref += 1
            document = documents[document_id]
            results.append(
                {
                    "ref": ref,
                    "title": document.title,
                    "url": document.url,
                    "text": document.text[:TOOL_RESULT_CHARS],
                }
            )
        reply.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "search", "arguments": {"query": searches[index]["query"]}},
                    }
                ],
            }
        )
        reply.append(
            {
                "role": "tool",
                "tool_call_id": call_id,
                "name": "search",
                "content": json.dumps(results, ensure_ascii=False),
            }
        )
    reply.append({"role": "assistant", "content": answer.strip()})
    return reply
