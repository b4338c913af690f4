import io
import json
import re

import pytest

from labeling.models import Demonstration
from labeling.services.corpora import corpus_upload
from tests.browser.ui import login, shot, shots
from tests.factories import seed_demonstrations

pytestmark = pytest.mark.django_db(transaction=True)

DOCS = [
    {
        "title": "Eiffel Tower",
        "url": "https://example.org/eiffel",
        "text": "The Eiffel Tower was finished in 1889 for the World's Fair in Paris.",
    },
    {
        "title": "Gustave Eiffel",
        "url": "https://example.org/gustave",
        "text": "Gustave Eiffel's company designed and built the tower.",
    },
    {"title": "Sourdough", "url": "", "text": "Sourdough bread needs a starter and patience."},
]


def test_a_search_tool_conversation(page, make_project, add_member, admin):
    project = make_project(kinds=["search"])
    corpus_upload(
        project=project,
        name="wiki",
        uploaded_by=admin,
        stream=io.BytesIO("\n".join(json.dumps(d) for d in DOCS).encode()),
    )
    seed_demonstrations(project, 1, kind="search")
    add_member(project, "lea")
    login(page, "lea")
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    assignment_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])

    page.locator("[data-search-input]").fill("when was the eiffel tower finished")
    page.locator("[data-search-input]").press("Enter")
    step = page.locator(".search-step").first
    step.wait_for()
    assert step.locator(".result-title").first.inner_text() == "Eiffel Tower"
    assert step.locator("mark").count() >= 1
    page.locator("[data-search-input]").fill("who built it eiffel company")
    page.get_by_role("button", name="Search").click()
    page.locator(".search-step").nth(1).wait_for()

    page.locator(".search-step").nth(0).locator("[data-pick]").first.check()
    page.locator(".search-step").nth(1).get_by_text("Gustave Eiffel", exact=True).click()
    assert page.locator("[data-ref]").all_inner_texts().count("[1]") == 1
    assert "[2]" in page.locator(".search-step").nth(1).inner_text()
    page.locator("[data-reply]").fill("It was finished in 1889 [1], by Gustave Eiffel's company [2].")
    shot(page, "06-search-conversation")
    page.get_by_role("button", name="Submit and next").click()
    page.get_by_text("That was the last task for now").wait_for()

    reply = Demonstration.objects.get(assignment_id=assignment_id).messages[3:]  # after the seeded turns
    assert [m["role"] for m in reply] == ["assistant", "tool", "assistant", "tool", "assistant"]
    assert reply[0]["tool_calls"][0]["function"]["arguments"] == {
        "query": "when was the eiffel tower finished"
    }
    assert json.loads(reply[3]["content"])[0]["title"] == "Gustave Eiffel"


def test_a_natural_query_finds_the_document_and_it_is_read_in_full_before_citing(
    page, make_project, add_member, admin
):
    project = make_project(kinds=["search"])
    opened = {
        "title": "Eiffel Tower facts",
        "url": "",
        "text": "Opened: 31 March 1889.\nHeight: 330 metres.\nDesigned by the company of Gustave Eiffel.",
    }
    corpus_upload(
        project=project,
        name="wiki",
        uploaded_by=admin,
        stream=io.BytesIO("\n".join(json.dumps(d) for d in [*DOCS, opened]).encode()),
    )
    seed_demonstrations(project, 1, kind="search")
    add_member(project, "lea")
    login(page, "lea")
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))

    page.locator("[data-search-input]").fill("Eiffel Tower opened height")
    page.locator("[data-search-input]").press("Enter")
    step = page.locator(".search-step").first
    step.wait_for()
    assert step.locator(".result-title").first.inner_text() == "Eiffel Tower facts"
    assert "Sourdough" not in step.inner_text()
    shots(page, "06-search-results")
    step.get_by_role("link", name="Read in full").first.click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    # The whole document, on the lines it was written on, with the words of the search marked.
    text = dialog.locator("[data-document-text]")
    assert text.inner_text().splitlines() == opened["text"].splitlines()
    assert sorted(m.lower() for m in text.locator("mark").all_inner_texts()) == ["eiffel", "height", "opened"]
    shots(page, "06-search-document")
    dialog.get_by_role("button", name="The assistant read this: pick it").click()
    dialog.wait_for(state="hidden")

    assert step.locator("[data-pick]").first.is_checked()
    assert step.locator("[data-ref]").first.inner_text() == "[1]"

    # Without the dialog (a new tab, no script), the document is a page of its own.
    page.goto(step.get_by_role("link", name="Read in full").first.get_attribute("href"))
    assert page.locator("[data-document-text]").inner_text().splitlines() == opened["text"].splitlines()
    shots(page, "12-search-document-page")
