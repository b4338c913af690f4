"""Searching a corpus: any of the words, documents holding more of them first; phrases and exclusions kept;
passages that start where a sentence starts and mark the words found."""

import io
import json

import pytest

from core.errors import DomainError
from labeling import search
from labeling.search import headline_html, headline_text, parse_query, passage, search_documents
from labeling.services.corpora import corpus_upload

EIFFEL = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris. It is named after "
    "the engineer Gustave Eiffel, whose company designed and built it. Locally nicknamed the iron lady, "
    "it was built as the centrepiece of a fair and to crown the centennial of the French Revolution. "
    "Some of France's leading artists criticised its design at first.\n"
    "It was opened to the public on 31 March 1889, for the World's Fair. Its height is 330 metres."
)
DOCS = [
    {"title": "Eiffel Tower", "url": "https://example.org/eiffel", "text": EIFFEL},
    {
        "title": "Tokyo Tower",
        "url": "",
        "text": "Tokyo Tower is a communications tower. Its height is 333 m.",
    },
    {"title": "Blackpool Tower", "url": "", "text": "Blackpool Tower opened in 1894, inspired by Paris."},
    {"title": "Sourdough", "url": "", "text": "Sourdough bread needs a starter and patience."},
]


@pytest.fixture
def corpus(make_project, admin):
    project = make_project(kinds=["search"])
    corpus_upload(
        project=project,
        name="towers",
        uploaded_by=admin,
        stream=io.BytesIO("\n".join(json.dumps(d) for d in DOCS).encode()),
    )
    return project


def titles(project, query):
    return [r["title"] for r in search_documents(project_id=project.pk, query=query)]


def test_a_natural_query_finds_the_document_holding_most_of_its_words_first(corpus):
    # No document holds all four words; websearch syntax (every word required) found nothing here.
    found = titles(corpus, "Eiffel Tower opened height")

    assert found[0] == "Eiffel Tower"  # all four words; the others hold two each
    assert sorted(found[1:]) == ["Blackpool Tower", "Tokyo Tower"]


def test_a_quoted_phrase_must_appear_and_an_exclusion_must_not(corpus):
    assert titles(corpus, '"Tokyo Tower" height') == ["Tokyo Tower"]
    assert titles(corpus, "tower opened -paris") == ["Tokyo Tower"]
    assert titles(corpus, 'tower -"world\'s fair" -blackpool') == ["Tokyo Tower"]
    assert titles(corpus, "sourdough OR bread") == ["Sourdough"]


def test_a_query_of_exclusions_alone_is_refused_naming_the_query():
    with pytest.raises(DomainError) as refused:
        parse_query('-paris -"eiffel tower"')
    assert refused.value.field == "query"
    assert parse_query('"a b" c -d -"e f" c').phrases == ("a b",)
    assert parse_query('"a b" c -d -"e f" c').words == ("c",)
    assert parse_query('"a b" c -d -"e f" c').excluded == (("d", False), ("e f", True))


def test_a_passage_starts_at_a_sentence_and_marks_every_word_found(corpus):
    result = search_documents(project_id=corpus.pk, query="opened height")[0]

    text = headline_text(result["headline"])
    flat = " ".join(EIFFEL.split())
    at = flat.index(text[:40])
    assert at > 0 and flat[at - 2 : at] == ". "  # it starts where a sentence starts: no word of it lost
    assert "It was opened to the public on 31 March 1889" in text
    assert "Its height is 330 metres." in text and "Champ de Mars" not in text
    html = str(headline_html(result["headline"]))
    assert "<mark>opened</mark>" in html and "<mark>height</mark>" in html


def test_a_passage_of_a_long_text_is_cut_between_words_with_its_marks_closed():
    mark, stop = search._MARK_START, search._MARK_STOP
    words = " ".join(f"word{i}" for i in range(200))
    marked = f"Intro sentence here. {words} {mark}needle{stop} and {words}."

    shown = passage(marked)

    assert shown.startswith("… ") and f"{mark}needle{stop}" in shown and shown.endswith(" …")
    assert shown.count(mark) == shown.count(stop)
    assert 200 < len(shown) <= search.PASSAGE_CHARS + 4
    assert all(w.startswith("word") or w in ("…", "and") or "needle" in w for w in shown.split())


def test_marks_forged_inside_a_document_never_reach_the_page(make_project, admin):
    project = make_project(kinds=["search"])
    forged = {"title": "Forged", "url": "", "text": "tower \ue000<script>x()</script>\ue001 tower"}
    corpus_upload(
        project=project, name="c", uploaded_by=admin, stream=io.BytesIO(json.dumps(forged).encode())
    )

    html = str(headline_html(search_documents(project_id=project.pk, query="tower")[0]["headline"]))

    assert "<script>" not in html and "&lt;script&gt;" in html and html.count("<mark>") == 2
