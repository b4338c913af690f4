"""A search task through the API: Coach runs and records each search; a submission cites recorded results."""

import io
import json

import pytest

from labeling.models import Demonstration
from labeling.search import SEARCH_TOOL
from labeling.services.corpora import corpus_upload
from tests.factories import seed_demonstrations

DOCS = [
    {
        "title": "Lima",
        "url": "https://example.org/lima",
        "text": "Lima is the capital of Peru, on the coast.",
    },
    {
        "title": "Cusco",
        "url": "https://example.org/cusco",
        "text": "Cusco was the capital of the Inca empire.",
    },
    {"title": "Bread", "url": "", "text": "Sourdough needs a starter."},
]


@pytest.fixture
def searching(make_project, add_member, admin, api):
    project = make_project(kinds=["search"])
    corpus_upload(
        project=project,
        name="atlas",
        uploaded_by=admin,
        stream=io.BytesIO("\n".join(json.dumps(d) for d in DOCS).encode()),
    )
    seed_demonstrations(project, 1, kind="search")
    client = api(add_member(project, "lea"))
    assignment = client.post(f"/api/projects/{project.pk}/next/").json()
    return client, f"/api/assignments/{assignment['id']}"


def test_a_search_is_run_recorded_and_listed(searching):
    client, url = searching
    response = client.post(f"{url}/search/", {"query": "capital"}, format="json")
    assert response.status_code == 201
    step = response.json()
    assert step["search"] == 0 and step["query"] == "capital"
    assert {r["title"] for r in step["results"]} == {"Lima", "Cusco"}
    lima = next(r for r in step["results"] if r["title"] == "Lima")
    assert lima["cite_as"] == [0, lima["document"]] and "capital" in lima["passage"]
    assert "\ue000" not in lima["passage"]  # the highlight marks are for the web page only
    client.post(f"{url}/search/", {"query": "sourdough"}, format="json")
    listed = client.get(f"{url}/search/").json()["searches"]
    assert [s["query"] for s in listed] == ["capital", "sourdough"]


def test_a_submission_cites_recorded_results_and_carries_the_platform_tool(searching):
    client, url = searching
    step = client.post(f"{url}/search/", {"query": "capital Peru"}, format="json").json()
    lima = next(r for r in step["results"] if r["title"] == "Lima")
    response = client.post(
        f"{url}/submit/",
        {"answer": "Lima [1].", "citations": [lima["cite_as"]], "seconds": 20},
        format="json",
    )
    assert response.status_code == 201, response.json()
    demonstration = Demonstration.objects.get()
    assert demonstration.tools == [SEARCH_TOOL]
    call, result, answer = demonstration.messages[-3:]
    assert call["tool_calls"][0]["function"]["arguments"] == {"query": "capital Peru"}
    assert json.loads(result["content"]) == [
        {"ref": 1, "title": "Lima", "url": "https://example.org/lima", "text": DOCS[0]["text"]}
    ]
    assert answer == {"role": "assistant", "content": "Lima [1]."}


@pytest.mark.parametrize(
    ("body", "field", "detail"),
    [
        ({"answer": "Lima [1].", "citations": [[0, 999999]]}, "citations", "not results of a search"),
        ({"answer": "Lima [1].", "citations": [[5, "x"]]}, "citations", "[search index, document id]"),
        ({"answer": "Lima [1].", "citations": []}, "citations", "list of"),
        ({"answer": "Lima.", "citations": "LIMA"}, "citations", "list of"),
        ({"answer": "Lima, no citation.", "citations": "CITE"}, "answer", "cite the results"),
        ({"answer": "Lima [3].", "citations": "CITE"}, "answer", "match no picked result"),
        ({"answer": "   ", "citations": "CITE"}, "answer", "write the assistant's reply"),
    ],
)
def test_a_citation_that_is_not_recorded_is_refused_and_nothing_is_stored(searching, body, field, detail):
    client, url = searching
    step = client.post(f"{url}/search/", {"query": "capital"}, format="json").json()
    if body["citations"] == "CITE":
        body = body | {"citations": [step["results"][0]["cite_as"]]}
    response = client.post(f"{url}/submit/", body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == field and detail in response.json()["detail"]
    assert not Demonstration.objects.exists()


@pytest.mark.parametrize("query", ["", "   ", "a\x00b", "x" * 301])
def test_a_bad_query_is_refused_naming_the_field(searching, query):
    client, url = searching
    response = client.post(f"{url}/search/", {"query": query}, format="json")
    assert response.status_code == 400 and response.json().get("field", "query") == "query"
    assert client.get(f"{url}/search/").json()["searches"] == []


def test_another_labeler_cannot_search_or_read_the_searches(searching, make_user, api):
    client, url = searching
    client.post(f"{url}/search/", {"query": "capital"}, format="json")
    stranger = api(make_user("sam"))
    assert stranger.get(f"{url}/search/").status_code in (403, 404)
    assert stranger.post(f"{url}/search/", {"query": "capital"}, format="json").status_code in (403, 404)
    assert len(client.get(f"{url}/search/").json()["searches"]) == 1


def test_the_api_search_matches_any_of_the_words_as_the_page_does(searching):
    client, url = searching

    step = client.post(f"{url}/search/", {"query": "Peru capital coast Andes"}, format="json").json()

    assert [r["title"] for r in step["results"]] == ["Lima", "Cusco"]  # three of the words, then one
    assert step["results"][0]["passage"].startswith("Lima is the capital of Peru")


def test_the_api_reads_a_whole_document_and_says_how_to_cite_it(searching):
    client, url = searching
    step = client.post(f"{url}/search/", {"query": "capital"}, format="json").json()
    lima = next(r for r in step["results"] if r["title"] == "Lima")

    read = client.get(f"{url}/documents/{lima['document']}/?search=0").json()
    unsearched = client.get(f"{url}/documents/{lima['document']}/").json()

    assert read == {
        "document": lima["document"],
        "title": "Lima",
        "url": "https://example.org/lima",
        "text": DOCS[0]["text"],
        "cite_as": [0, lima["document"]],
    }
    assert unsearched["cite_as"] is None and unsearched["text"] == DOCS[0]["text"]
