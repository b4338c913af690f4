"""A labeler writes a conversation playing both roles, then talks to the tiny model: a streamed reply,
alternatives at turn 2 ranked with the keyboard, the chosen reply edited, a reload that finds it all,
one more reply, and the submit."""

import json
import re

import pytest

from labeling.models import ChatTurn, Demonstration, Ranking, ReplyDraftEdit
from labeling.search import SEARCH_TOOL
from labeling.services.corpora import corpus_upload
from labeling.services.imports import prompts_import
from tests.browser.ui import login, shots
from tests.factories import jsonl, seed_model_drafts, serve_chat_model

pytestmark = pytest.mark.django_db(transaction=True)


def turns(page):
    return page.locator("[data-chat-turns] > li")


def write_turn(page, role: str, text: str) -> None:
    page.get_by_role(
        "button", name=f"Add an {role} turn" if role == "assistant" else f"Add a {role} turn"
    ).click()
    page.locator("[data-chat-turns] > li").last.locator("textarea").fill(text)


def wait_saved(page) -> None:
    page.wait_for_function(
        "() => document.querySelector('[data-save-status]').textContent.startsWith('Saved at')"
    )


def model_reply(page, count: int) -> None:
    """Ask for the model's reply; a barely trained model sometimes writes nothing, and then the labeler
    (as the page says) asks again: each call samples with a seed of its own."""
    for _ in range(4):
        page.get_by_role("button", name="Model reply").click()
        writing = (
            "document.querySelector('[data-chat-status]').textContent.startsWith('The model is writing')"
        )
        page.wait_for_function(f"() => !{writing}", timeout=60_000)
        status = page.locator("[data-chat-status]").inner_text()
        if not status.startswith("The model wrote nothing"):
            break
    assert status == "The model replied."
    assert turns(page).count() == count


def test_write_both_roles_then_talk_to_the_model_rank_alternatives_edit_reload_and_submit(
    new_page, make_project, add_member, admin, chat_model_server, tiny_model_dir
):
    project = make_project(kinds=["chat"], guideline="## Chats\n\nKeep the user's goal in view.")
    serve_chat_model(project, admin, chat_model_server, tiny_model_dir, k=3)
    opening = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Plan a picnic."}]
    prompts_import(project=project, fmt="jsonl", task_kind="chat", stream=jsonl([{"messages": opening}] * 1))
    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind="chat",
        stream=jsonl([{"messages": [{"role": "user", "content": "Name a fruit."}]}]),
    )
    add_member(project, "lea")
    page = new_page()
    login(page, "lea")
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))

    # Both roles: the opening is there to edit; three user turns and three assistant replies.
    first = page.locator("[data-chat-turns] textarea")
    assert [first.nth(0).input_value(), first.nth(1).input_value()] == ["Be kind.", "Plan a picnic."]
    first.nth(1).fill("Plan a picnic for four.")
    write_turn(page, "assistant", "Bread, cheese and fruit.")
    write_turn(page, "user", "A mistake.")
    turns(page).last.get_by_role("button", name="Remove").click()
    write_turn(page, "user", "And to drink?")
    write_turn(page, "assistant", "Lemonade.")
    write_turn(page, "user", "Thanks!")
    write_turn(page, "assistant", "Enjoy the picnic.")
    wait_saved(page)
    shots(page, "40-chat-both-roles")
    page.get_by_role("button", name="Submit conversation").click()
    page.wait_for_url(re.compile(r"/next/$"))
    written = Demonstration.objects.get()
    assert [m["role"] for m in written.messages] == ["system"] + ["user", "assistant"] * 3
    assert written.messages[1]["content"] == "Plan a picnic for four."
    assert written.messages[-1]["content"] == "Enjoy the picnic."

    # With the model: a streamed reply, a user turn, a second reply, then its alternatives.
    page.get_by_role("button", name="Take the next task").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    assert "The model here is tiny-chat" in page.locator("[data-chat-model]").inner_text()
    model_reply(page, 2)
    write_turn(page, "user", "And a vegetable?")
    model_reply(page, 4)
    turns(page).nth(3).get_by_role("button", name="Alternatives").click()
    page.wait_for_url(re.compile(r"/chat/turns/\d+/rank/$"))
    cards = page.locator(".candidate")
    assert cards.count() == 3
    shots(page, "41-chat-rank-alternatives")
    # half placed, then a reload: the board comes back as it was left
    cards.first.focus()
    page.keyboard.press("3")
    page.locator("[data-save-status]", has_text="Draft saved").wait_for()
    page.reload()
    turn = ChatTurn.objects.get(pk=re.search(r"/turns/(\d+)/", page.url)[1])
    first_id, second_id = turn.candidate_ids[:2]
    assert page.locator(f'select[name="tier-{first_id}"]').input_value() == "3"
    assert page.locator(f'select[name="tier-{second_id}"]').input_value() == ""
    cards.nth(1).focus()
    for key in ("1", "2"):  # each key places the answer in focus, then moves to the next
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    ranking = Ranking.objects.get()
    best = ChatTurn.objects.get(pk=ranking.chat_turn_id).chosen.text
    assert ranking.tiers[0] == [ranking.chat_turn.candidate_ids[1]]
    chosen = turns(page).nth(3).locator("textarea")
    assert chosen.input_value() == best
    assert "best of 3 replies" in turns(page).nth(3).inner_text()

    chosen.fill(best + " Carrots.")
    wait_saved(page)
    page.reload()
    assert turns(page).count() == 4
    assert turns(page).nth(3).locator("textarea").input_value() == best + " Carrots."
    assert "best of 3 replies, edited" in turns(page).nth(3).inner_text()
    assert turns(page).nth(2).locator("textarea").input_value() == "And a vegetable?"

    write_turn(page, "user", "Thank you.")
    model_reply(page, 6)
    shots(page, "42-chat-with-the-model")
    page.get_by_role("button", name="Submit conversation").click()
    page.wait_for_url(re.compile(r"/next/$"))
    chat = Demonstration.objects.exclude(pk=written.pk).get()
    assert [m["role"] for m in chat.messages] == ["user", "assistant"] * 3
    assert chat.messages[3]["content"] == best + " Carrots."
    turn = ChatTurn.objects.get(pk=ranking.chat_turn_id)
    assert (turn.final_index, turn.final_text) == (3, best + " Carrots.")
    assert turn.prompt.messages == chat.messages[:3]
    assert turn.ranking_draft is None  # the ranking is kept: its draft is gone


def test_the_assistant_searches_the_documents_and_the_model_answers_from_the_results(
    new_page, make_project, add_member, admin, chat_model_server, tiny_model_dir
):
    project = make_project(kinds=["chat"])
    serve_chat_model(project, admin, chat_model_server, tiny_model_dir, k=3)
    documents = [
        {"title": "Rain shelters", "text": "The park has two <b>rain</b> shelters."},
        {"title": "Sourdough", "text": "Sourdough needs a starter."},
    ]
    corpus_upload(project=project, name="park", uploaded_by=admin, stream=jsonl(documents))
    opening = [{"role": "user", "content": "Where can we shelter if it rains?"}]
    prompts_import(project=project, fmt="jsonl", task_kind="chat", stream=jsonl([{"messages": opening}]))
    add_member(project, "lea")
    page = new_page()
    login(page, "lea")
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))

    page.get_by_label("The assistant searches the documents for").fill("rain shelter")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("[data-search-results]").wait_for()
    assert turns(page).count() == 3
    assert turns(page).nth(1).inner_text().endswith("Searched for: rain shelter")
    results = page.locator("[data-search-results]").inner_text()
    assert (
        "Rain shelters" in results and "The park has two <b>rain</b> shelters." in results
    )  # text, not markup
    assert "Sourdough" not in results
    shots(page, "43-chat-search")
    model_reply(page, 4)
    page.reload()
    assert turns(page).count() == 4 and "Searched for: rain shelter" in turns(page).nth(1).inner_text()
    page.get_by_role("button", name="Submit conversation").click()
    page.wait_for_url(re.compile(r"/next/$"))
    chat = Demonstration.objects.get()
    assert [m["role"] for m in chat.messages] == ["user", "assistant", "tool", "assistant"]
    assert chat.messages[1]["tool_calls"][0]["function"]["arguments"] == {"query": "rain shelter"}
    assert json.loads(chat.messages[2]["content"])[0]["title"] == "Rain shelters"
    assert chat.tools == [SEARCH_TOOL]


def test_a_chat_starts_from_the_model_draft_of_its_opening_and_the_edit_is_recorded(
    new_page, make_project, add_member, admin
):
    project = make_project(kinds=["chat"])
    opening = [{"role": "user", "content": "Plan a picnic."}]
    prompts_import(project=project, fmt="jsonl", task_kind="chat", stream=jsonl([{"messages": opening}]))
    seed_model_drafts(project, admin, ["Bring bread & <b>cheese</b>."])
    add_member(project, "lea")
    page = new_page()
    login(page, "lea")
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    reply = turns(page).nth(1)
    assert reply.locator("textarea").input_value() == "Bring bread & <b>cheese</b>."
    assert "model draft" in reply.locator("[data-model-draft]").inner_text()
    reply.locator("textarea").fill("Bring bread, cheese and a blanket.")
    wait_saved(page)
    page.reload()
    assert turns(page).nth(1).locator("textarea").input_value() == "Bring bread, cheese and a blanket."
    assert turns(page).nth(1).locator("[data-model-draft]").inner_text() == "model draft, edited"
    page.get_by_role("button", name="Submit conversation").click()
    page.wait_for_url(re.compile(r"/next/$"))
    edit = ReplyDraftEdit.objects.get()
    assert (edit.final_text, edit.unchanged) == ("Bring bread, cheese and a blanket.", False)
