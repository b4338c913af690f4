import io
import json

import pytest

from labeling.models import Demonstration, DemonstrationDraft
from labeling.services.corpora import corpus_upload
from labeling.services.queue import claim_next_task
from tests.factories import seed_demonstrations

DOCS = [
    {
        "title": "Eiffel Tower",
        "url": "https://example.org/eiffel",
        "text": "The Eiffel Tower was finished in 1889 for the World's Fair.",
    },
    {
        "title": "Paris <script>alert(1)</script>",
        "url": "https://example.org/paris",
        "text": "Paris hosts the tower <b>and</b> the Louvre.",
    },
    {"title": "Bread", "url": "", "text": "Sourdough needs a starter."},
]


@pytest.fixture
def searching(make_project, add_member, admin):
    project = make_project(kinds=["search"])
    corpus_upload(
        project=project,
        name="wiki",
        uploaded_by=admin,
        stream=io.BytesIO("\n".join(json.dumps(d) for d in DOCS).encode()),
    )
    seed_demonstrations(project, 1, kind="search")
    lea = add_member(project, "lea")
    return project, lea, claim_next_task(project=project, labeler=lea)


def test_a_search_shows_ranked_results_with_escaped_highlights(searching, client_for):
    _, lea, assignment = searching

    response = client_for(lea).post(
        f"/assignments/{assignment.pk}/search/", {"query": "tower"}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Eiffel Tower") < html.index("Paris &lt;script&gt;")
    assert "<mark>tower</mark>" in html.lower()
    assert "<script>" not in html and "<b>" not in html and "Sourdough" not in html
    assert 'value="0:' in html  # a pick box per result, of search 0
    assert DemonstrationDraft.objects.get(assignment=assignment).searches[0]["query"] == "tower"


def test_the_searches_are_kept_in_the_draft_across_a_reload(searching, client_for):
    _, lea, assignment = searching
    client = client_for(lea)
    client.post(f"/assignments/{assignment.pk}/search/", {"query": "tower"})
    client.post(f"/assignments/{assignment.pk}/search/", {"query": "sourdough"})

    html = client.get(f"/assignments/{assignment.pk}/").content.decode()

    assert "“tower”" in html and "“sourdough”" in html and html.count('class="search-step"') == 2


def test_submitting_stores_hf_tool_calls_then_the_results_then_the_cited_answer(searching, client_for):
    _, lea, assignment = searching
    client = client_for(lea)
    client.post(f"/assignments/{assignment.pk}/search/", {"query": "eiffel tower"})
    client.post(f"/assignments/{assignment.pk}/search/", {"query": "sourdough"})
    draft = DemonstrationDraft.objects.get(assignment=assignment)
    eiffel = draft.searches[0]["results"][0]["id"]
    bread = draft.searches[1]["results"][0]["id"]

    response = client.post(
        f"/assignments/{assignment.pk}/write/",
        {
            "content": "It was finished in 1889 [1]; bread needs a starter [2].",
            "pick": [f"1:{bread}", f"0:{eiffel}"],
            "seconds": "80",
        },
    )

    assert response.status_code == 302
    demonstration = Demonstration.objects.get(assignment=assignment)
    reply = demonstration.messages[3:]
    assert [m["role"] for m in reply] == ["assistant", "tool", "assistant", "tool", "assistant"]
    call = reply[0]["tool_calls"][0]
    assert call["function"] == {"name": "search", "arguments": {"query": "eiffel tower"}}
    assert reply[1]["tool_call_id"] == call["id"] and reply[1]["name"] == "search"
    assert json.loads(reply[1]["content"])[0] | {"text": ""} == {
        "ref": 1,
        "title": "Eiffel Tower",
        "url": "https://example.org/eiffel",
        "text": "",
    }
    assert json.loads(reply[3]["content"])[0]["ref"] == 2
    assert reply[-1] == {
        "role": "assistant",
        "content": "It was finished in 1889 [1]; bread needs a starter [2].",
    }
    assert demonstration.tools[0]["function"]["name"] == "search"


def test_an_answer_must_cite_picked_results(searching, client_for):
    _, lea, assignment = searching
    client = client_for(lea)
    client.post(f"/assignments/{assignment.pk}/search/", {"query": "tower"})
    first = DemonstrationDraft.objects.get(assignment=assignment).searches[0]["results"][0]["id"]

    no_pick = client.post(f"/assignments/{assignment.pk}/write/", {"content": "Finished in 1889 [1]."})
    bad_cite = client.post(
        f"/assignments/{assignment.pk}/write/", {"content": "Finished in 1889 [3].", "pick": [f"0:{first}"]}
    )

    assert no_pick.status_code == 400 and "Pick at least one search result" in no_pick.content.decode()
    assert bad_cite.status_code == 400 and "Citations [3] match no picked result" in bad_cite.content.decode()
    assert not Demonstration.objects.exists()


def test_a_natural_query_finds_documents_holding_any_of_its_words(searching, client_for):
    _, lea, assignment = searching

    html = (
        client_for(lea)
        .post(f"/assignments/{assignment.pk}/search/", {"query": "Eiffel Tower opened height"})
        .content.decode()
    )

    assert html.index("Eiffel Tower") < html.index("Paris &lt;script&gt;")  # more of the words first
    assert "Sourdough" not in html and "Read in full" in html


def test_a_result_opens_in_full_with_its_line_breaks_and_the_search_words_marked(
    searching, client_for, admin
):
    project, lea, assignment = searching
    long_text = "First line about the tower.\nSecond line <b>bold</b>.\n\nLast paragraph, tower again."
    corpus_upload(
        project=project,
        name="more",
        uploaded_by=admin,
        stream=io.BytesIO(json.dumps({"title": "Long read", "url": "", "text": long_text}).encode()),
    )
    client = client_for(lea)
    client.post(f"/assignments/{assignment.pk}/search/", {"query": "tower"})
    document = next(
        r
        for r in DemonstrationDraft.objects.get(assignment=assignment).searches[0]["results"]
        if r["title"] == "Long read"
    )

    response = client.get(
        f"/assignments/{assignment.pk}/documents/{document['id']}/?search=0", HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "First line about the <mark>tower</mark>.\nSecond line &lt;b&gt;bold&lt;/b&gt;.\n\nLast" in html
    assert "Words of your search “tower” are marked." in html
    assert f'data-pick-document="0:{document["id"]}"' in html
    page = client.get(f"/assignments/{assignment.pk}/documents/{document['id']}/?search=0").content.decode()
    assert "Back to the task" in page and "Second line &lt;b&gt;bold&lt;/b&gt;." in page


def test_a_document_is_read_only_through_ones_own_search_task(searching, client_for, make_project, admin):
    project, lea, assignment = searching
    other = make_project(name="other", kinds=["search"])
    corpus_upload(
        project=other,
        name="secret",
        uploaded_by=admin,
        stream=io.BytesIO(json.dumps({"title": "Secret", "url": "", "text": "tower plans"}).encode()),
    )
    secret = other.corpora.get().documents.get()
    own = project.corpora.get().documents.first()

    from_other_project = client_for(lea).get(f"/assignments/{assignment.pk}/documents/{secret.pk}/")
    another_labeler = client_for(admin).get(f"/assignments/{assignment.pk}/documents/{own.pk}/")

    assert from_other_project.status_code == 404 and "Secret" not in from_other_project.content.decode()
    assert another_labeler.status_code == 404
