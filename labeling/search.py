"""The search backend of search-tool conversations: Postgres full-text search over uploaded corpora.

Also the shape of what a search conversation stores: the tool schema, and the assistant `tool_calls`
plus `tool` messages in the HF chat format.
"""

import json
import re
from dataclasses import dataclass
from typing import IO, Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import Case, F, Q, Value, When
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
        raise DomainError(f"shorten the query: it holds at most {MAX_QUERY_CHARS} characters", field="query")
    if _CONTROL.search(query):
        raise DomainError("remove the control characters such as NUL from the query", field="query")
    return query


@dataclass(frozen=True)
class ParsedQuery:
    """A labeler's query: quoted phrases must appear, `-word` and `-"phrase"` must not, and any of the
    other words may (documents holding more of them rank first)."""

    phrases: tuple[str, ...]
    words: tuple[str, ...]
    excluded: tuple[tuple[str, bool], ...]  # (text, is a phrase)

    def terms(self) -> list[SearchQuery]:
        """Each phrase and word on its own: a document's coverage is how many of them it holds."""
        return [_term(p, phrase=True) for p in self.phrases] + [_term(w) for w in self.words]

    def tsquery(self) -> SearchQuery:
        """(every phrase) AND (any word) AND NOT (each exclusion)."""
        query: Any = None
        for phrase in self.phrases:
            query = _term(phrase, phrase=True) if query is None else query & _term(phrase, phrase=True)
        if self.words:
            any_word = _term(self.words[0])
            for word in self.words[1:]:
                any_word = any_word | _term(word)
            query = any_word if query is None else query & any_word
        for text, is_phrase in self.excluded:
            query = query & ~_term(text, phrase=is_phrase)
        return query

    def highlighted(self) -> SearchQuery:
        """Every phrase and word joined by OR, so that each one found is marked."""
        terms = self.terms()
        query = terms[0]
        for term in terms[1:]:
            query = query | term
        return query


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
MAX_TERMS = 32  # phrases and words that count towards coverage; a longer query reads only its first ones


def _term(text: str, *, phrase: bool = False) -> SearchQuery:
    return SearchQuery(text, search_type="phrase" if phrase else "plain", config=SEARCH_CONFIG)


def parse_query(query: str) -> ParsedQuery:
    """Split a cleaned query into phrases, words and exclusions; a query of exclusions alone is refused."""
    phrases: list[str] = []
    words: list[str] = []
    excluded: list[tuple[str, bool]] = []
    for match in _TOKEN.finditer(query):
        negated, quoted, bare = match.group(1), match.group(2), match.group(3)
        if quoted is not None:
            if quoted.strip() and negated:
                excluded.append((quoted, True))
            elif quoted.strip():
                phrases.append(quoted)
        elif bare.startswith("-") and len(bare) > 1:
            excluded.append((bare[1:], False))
        elif bare.strip("-"):
            words.append(bare)
    phrases, words = _unique(phrases)[:MAX_TERMS], _unique(words)[: max(0, MAX_TERMS - len(phrases))]
    if not phrases and not words:
        raise DomainError(
            "add a word or a quoted phrase to search for: exclusions alone match nothing", field="query"
        )
    return ParsedQuery(tuple(phrases), tuple(words), tuple(excluded[:MAX_TERMS]))


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def search_documents(*, project_id: int, query: str, limit: int = RESULTS_PER_SEARCH) -> list[dict[str, Any]]:
    """The project's documents that hold any of the query's words (and every phrase, and no exclusion),
    those holding more of the words first, then by cover density; each with a passage around its best
    match."""
    parsed = parse_query(query)
    coverage = sum(
        (Case(When(Q(search=term), then=Value(1)), default=Value(0)) for term in parsed.terms()),
        start=Value(0),
    )
    tsquery = parsed.tsquery()
    top = list(
        SearchDocument.objects.filter(corpus__project_id=project_id, search=tsquery)
        .annotate(coverage=coverage, rank=SearchRank(F("search"), tsquery, cover_density=True))
        .order_by("-coverage", "-rank", "id")
        .values_list("id", flat=True)[:limit]
    )
    if not top:
        return []
    marked = _marked_texts(top, parsed)
    by_id = {d.pk: d for d in SearchDocument.objects.filter(pk__in=top).only("id", "title", "url")}
    return [
        {"id": i, "title": by_id[i].title, "url": by_id[i].url, "headline": passage(marked[i])}
        for i in top
        if i in by_id
    ]


def _marked_texts(ids: list[int], parsed: ParsedQuery) -> dict[int, str]:
    """Each document's whole text with every word the query found between our private marks."""
    headline = SearchHeadline(
        "text",
        parsed.highlighted(),
        config=SEARCH_CONFIG,
        start_sel=_MARK_START,
        stop_sel=_MARK_STOP,
        highlight_all=True,
    )
    return dict(
        SearchDocument.objects.filter(pk__in=ids).annotate(marked=headline).values_list("id", "marked")
    )


def document_marked(*, document: SearchDocument, query: str) -> str:
    """The whole text of a document with the words of `query` marked (for reading it before citing)."""
    try:
        parsed = parse_query(query)
    except DomainError:
        return document.text
    return _marked_texts([document.pk], parsed).get(document.pk, document.text)


PASSAGE_CHARS = 360
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n\s*")
_MARKED_WORD = re.compile(f"{_MARK_START}([^{_MARK_STOP}]*){_MARK_STOP}")


def passage(marked: str, *, size: int = PASSAGE_CHARS) -> str:
    """The stretch of a marked text that holds the most distinct found words, starting where a sentence
    starts (so no leading words are lost), about `size` characters long and cut between words."""
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer(marked)]

    def score(start: int) -> tuple[int, int]:
        window = marked[start : start + size]
        found = {w.lower() for w in _MARKED_WORD.findall(window)}
        lead = window.find(_MARK_START)
        return len(found), -(lead if lead != -1 else size)  # more words, then the first one sooner

    best = max(range(len(starts)), key=lambda i: (score(starts[i]), -i))
    start = starts[best]
    # Near the end of the text, earlier sentences fill the passage instead of leaving it short.
    while best > 0 and len(marked) - starts[best - 1] <= size:
        best -= 1
        start = starts[best]
    first_mark = marked.find(_MARK_START, start)
    if first_mark - start > size * 3 // 4:
        # A sentence longer than the passage, its match far in: start a few words before the match.
        start = marked.rfind(" ", start, first_mark - size // 4) + 1 or start
    text = marked[start:]
    if len(text) > size:
        cut = text.rfind(" ", 0, size)
        text = text[: cut if cut > size // 2 else size]
        if text.count(_MARK_START) > text.count(_MARK_STOP):
            text += _MARK_STOP
        text = text.rstrip() + " …"
    text = _tidy(text)
    return ("… " if not _starts_sentence(marked, start) else "") + text


def _tidy(text: str) -> str:
    """Runs of spaces as one, and the text's line breaks kept (a blank line stays one break)."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _starts_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip()
    return not before or before[-1] in ".!?…" or "\n" in text[len(before) : at]


def headline_text(headline: str) -> str:
    """A passage as plain text, for the API."""
    return headline.replace(_MARK_START, "").replace(_MARK_STOP, "")


def headline_html(headline: str) -> SafeString:
    """Escape a marked passage, then turn only our own marks into <mark>."""
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


def _result(ref: int, document: SearchDocument) -> dict[str, Any]:
    """A document as the search tool returns it to the assistant."""
    text = document.text[:TOOL_RESULT_CHARS]
    return {"ref": ref, "title": document.title, "url": document.url, "text": text}


def tool_result(found: list[dict[str, Any]]) -> str:
    """The search tool's result for the documents a search found, in their order: the message content of
    a `tool` turn."""
    documents = SearchDocument.objects.in_bulk([f["id"] for f in found])
    results = [_result(ref, documents[f["id"]]) for ref, f in enumerate(found, 1) if f["id"] in documents]
    return json.dumps(results, ensure_ascii=False)


def project_has_documents(project_id: int) -> bool:
    return SearchDocument.objects.filter(corpus__project_id=project_id).exists()


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
            results.append(_result(ref, documents[document_id]))
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
