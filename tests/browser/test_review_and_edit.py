import pytest

from labeling.models import Demonstration, Review, Role
from labeling.services.drafts import demonstration_draft_submit
from labeling.services.queue import claim_next_task
from tests.browser.ui import login, shots
from tests.factories import seed_demonstrations

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reviewer_compares_accepts_and_edits(page, make_project, add_member):
    project = make_project(kinds=["demonstration"], overlap=2)
    seed_demonstrations(project, 1)
    submitted = {}
    for name, text in (("lea", "It started in **1850**."), ("otto", "Around 1900, I think.")):
        labeler = add_member(project, name)
        assignment = claim_next_task(project=project, labeler=labeler)
        demonstration_draft_submit(assignment_id=assignment.pk, labeler=labeler, content=text, seconds=40)
        submitted[name] = assignment
    add_member(project, "rhea", Role.REVIEWER)

    login(page, "rhea")
    page.get_by_role("link", name="Review").first.click()
    page.locator("td.preview a").first.click()
    columns = page.locator(".column")
    assert columns.count() == 2
    shots(page, "08-review-demonstrations-side-by-side")

    page.locator('[data-submission="1"]').get_by_role("button", name="Accept").click()
    assert "Accepted (lea)" in page.locator(".flash").inner_text()
    page.wait_for_selector("[data-review][data-ready]")
    page.keyboard.press("2")  # choose otto's, then edit it with the keyboard
    page.keyboard.press("e")
    otto = page.locator(".column").nth(1)
    textarea = otto.locator("textarea[name=content]")
    assert textarea.evaluate("t => t === document.activeElement")
    textarea.fill("It began around 1900.")
    otto.get_by_role("button", name="Save as a new revision").click()
    assert "Edit saved (otto)" in page.locator(".flash").inner_text()
    assert "The labeler's original" in page.locator(".column").nth(1).inner_text()
    shots(page, "09-review-demonstration-after-edit")

    assert Review.objects.get(assignment=submitted["lea"]).verdict == "accept"
    revisions = Demonstration.objects.filter(assignment=submitted["otto"]).order_by("revision")
    assert [d.messages[-1]["content"] for d in revisions] == [
        "Around 1900, I think.",
        "It began around 1900.",
    ]
