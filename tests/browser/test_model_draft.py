"""A labeler edits the model draft in the browser and submits it; the Quality tab shows the changes."""

import re

import pytest

from labeling.models import ReplyDraftEdit
from tests.browser.ui import login, shots
from tests.factories import seed_demonstrations, seed_model_drafts

pytestmark = pytest.mark.django_db(transaction=True)

DRAFT = "The history of topic 0 begins in 1850."


def test_edit_the_model_draft_reload_submit_and_read_the_figures(new_page, make_project, add_member, admin):
    project = make_project(kinds=["demonstration"])
    seed_demonstrations(project, 2)
    seed_model_drafts(project, admin, [DRAFT])
    add_member(project, "lea")
    page = new_page()
    login(page, "lea")
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    assignment_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])

    reply = page.locator("[data-reply]")
    assert reply.input_value() == DRAFT
    assert "A draft by the model drafter is filled in" in page.locator("[data-model-drafted]").inner_text()
    shots(page, "30-model-draft-pre-filled")
    # change the year, then add a sentence: "1850" → "1852" and " It grew after 1900."
    reply.click()
    page.keyboard.press("Control+End")
    for _ in range(2):
        page.keyboard.press("Backspace")
    page.keyboard.type("2. It grew after 1900.")
    page.wait_for_function(
        "() => document.querySelector('[data-save-status]').textContent.includes('saved at')"
    )

    page.reload()
    assert (
        page.locator("[data-reply]").input_value()
        == "The history of topic 0 begins in 1852. It grew after 1900."
    )
    assert "started from a draft by the model drafter" in page.locator("[data-model-drafted]").inner_text()
    page.locator("[data-reply]").focus()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"() => document.querySelector('#task').dataset.assignment !== '{assignment_id}'")

    edit = ReplyDraftEdit.objects.get()
    assert edit.final_text == "The history of topic 0 begins in 1852. It grew after 1900."
    # characters: "1850." → "1852. It grew after 1900." keeps "185", inserts "2. It grew after 19" (19),
    # keeps the "0", inserts a "0" and keeps the "." (20 in all); words: 1850→1852, then 5 tokens added
    assert (edit.char_distance, edit.word_distance, edit.unchanged) == (20, 6, False)

    admin_page = new_page()
    login(admin_page, "ada")
    admin_page.goto(f"/projects/{project.pk}/quality/drafts/")
    row = admin_page.locator('[data-draft-figures="labelers"] tr[data-name="lea"]')
    assert row.locator("[data-unchanged]").inner_text().startswith("0%")
    assert row.locator("[data-median-chars]").inner_text() == "20"
    assert row.locator("[data-median-words]").inner_text() == "6"
    shots(admin_page, "31-quality-model-drafts")
