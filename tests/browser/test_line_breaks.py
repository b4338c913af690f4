"""Conversation text shows on the lines it was written on: a haiku is three lines on screen."""

import re

import pytest

from labeling.models import Candidate
from labeling.services.imports import prompts_import
from tests.browser.ui import login, shots
from tests.factories import jsonl, seed_rankings

pytestmark = pytest.mark.django_db(transaction=True)

HAIKU = "An old silent pond\nA frog jumps into the pond\nSplash! Silence again."
LINES = HAIKU.splitlines()

# How many lines an element's text takes on screen, measured from its height and line height.
RENDERED_LINES = """el => {
  const style = getComputedStyle(el);
  return Math.round(el.getBoundingClientRect().height / parseFloat(style.lineHeight));
}"""


def test_a_haiku_answer_shows_on_three_lines_on_the_ranking_page(page, make_project, add_member):
    project = make_project(k=4)
    seed_rankings(project, 1)
    Candidate.objects.filter(text="Answer 0 to question 0.").update(text=HAIKU + "\n\n`<b>code</b>`")
    add_member(project, "lea")
    login(page, "lea")
    page.goto(f"/projects/{project.pk}/next/")
    page.get_by_role("button", name="Take the next task").click()
    page.wait_for_selector("[data-rank-form][data-ready]")

    answer = page.locator(".answer", has_text="An old silent pond")
    poem = answer.locator("p").first
    assert poem.evaluate(RENDERED_LINES) == 3
    assert poem.inner_text().splitlines() == LINES
    assert answer.locator("code").inner_text() == "<b>code</b>"  # markdown still works, safely
    assert answer.locator("b").count() == 0
    shots(page, "10-ranking-line-breaks")


def test_a_prompt_a_tool_result_and_the_reply_preview_keep_their_lines(page, make_project, add_member):
    project = make_project(
        kinds=["demonstration"],
        guideline="# Ranking\n\nRank every answer.\n\n# Demonstrations\n\nKeep the user's form.",
    )
    messages = [
        {"role": "user", "content": "Find me a haiku.\n" + HAIKU},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "search", "arguments": {}}}],
        },
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": '[{"ref": 1, "title": "Basho", "url": "", "text": "'
            + HAIKU.replace("\n", "\\n")
            + '"}]',
        },
        {"role": "user", "content": "Now write one about the sea."},
    ]
    tools = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind="demonstration",
        stream=jsonl([{"external_id": "h1", "messages": messages, "tools": tools}]),
    )
    add_member(project, "lea")
    login(page, "lea")
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))

    prompt = page.locator(".msg-user .md p").first
    assert prompt.inner_text().splitlines() == ["Find me a haiku.", *LINES]
    assert prompt.evaluate(RENDERED_LINES) == 4
    tool_text = page.locator(".msg-tool .tool-text")
    assert tool_text.inner_text().splitlines() == LINES and "\\n" not in tool_text.inner_text()
    assert tool_text.evaluate(RENDERED_LINES) == 3
    page.locator("[data-reply]").fill(
        "Grey waves fold and break\nSalt wind carries gull voices\nThe tide keeps its time"
    )
    preview = page.locator("#reply-preview p")
    preview.wait_for()
    assert preview.inner_text().splitlines()[1] == "Salt wind carries gull voices"
    assert preview.evaluate(RENDERED_LINES) == 3
    panel = page.locator(".guideline-panel")
    assert "Keep the user's form" in panel.inner_text() and "Rank every answer." not in panel.inner_text()
    shots(page, "11-writing-line-breaks")
