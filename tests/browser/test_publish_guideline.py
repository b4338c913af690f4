import pytest

from guidelines.models import GuidelineVersion
from tests.browser.ui import login, shots

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_publishes_a_version_and_the_labeler_is_asked_to_acknowledge_it(
    new_page, make_project, add_member
):
    project = make_project(guideline="# Ranking\n\nRank by helpfulness, then honesty.\n\n- Ties are rare.")
    add_member(project, "lea")
    admin_page = new_page()
    login(admin_page, "ada")
    admin_page.goto(f"/projects/{project.pk}/guideline/edit/")
    body = admin_page.locator("#guideline-body")
    body.fill("# Ranking\n\nRank by helpfulness, then honesty.\n\n- Ties are **fine**.")
    admin_page.locator("#guideline-preview strong").get_by_text("fine").wait_for()  # the live preview
    shots(admin_page, "10-guideline-editor")

    admin_page.get_by_role("button", name="Publish as version 2").click()  # no change note yet
    assert "Write a change note" in admin_page.locator("[data-field-error=change_note]").inner_text()
    admin_page.get_by_label("Change note").fill("Ties are allowed")
    admin_page.get_by_role("button", name="Publish as version 2").click()

    confirm = admin_page.locator("[data-publish-confirm]")
    assert "Every labeler must read version 2 and acknowledge it" in confirm.inner_text()
    assert confirm.locator(".diff-passage ins").first.inner_text() == "fine."
    assert confirm.locator(".diff-passage del").first.inner_text() == "rare."
    shots(admin_page, "11-guideline-publish-confirm")
    assert GuidelineVersion.objects.filter(guideline=project.guideline).count() == 1
    admin_page.get_by_role("button", name="Publish version 2").click()
    admin_page.get_by_text("Version 2 published").wait_for()
    version = GuidelineVersion.objects.get(guideline=project.guideline, number=2)
    assert version.change_note == "Ties are allowed" and "\r" not in version.body  # the textarea sent CRLF

    admin_page.goto(f"/projects/{project.pk}/guideline/diff/1/2/")
    diff = admin_page.locator(".diff")
    assert "@@" not in diff.inner_text() and "**" not in diff.inner_text()
    assert diff.locator("li ins strong").inner_text() == "fine"
    admin_page.get_by_label("From").select_option("2")
    admin_page.get_by_label("to").select_option("1")
    admin_page.get_by_role("button", name="Compare").click()
    admin_page.get_by_role("heading", name="From version 2 to version 1").wait_for()
    shots(admin_page, "11-guideline-diff")

    labeler_page = new_page()
    login(labeler_page, "lea")
    ack = labeler_page.locator(".guideline-ack")
    assert "Guideline version 2" in ack.inner_text() and "Ties are allowed" in ack.inner_text()
    changed = ack.locator(".diff-passage.changed")
    assert changed.inner_text() == "Ties are rare.fine."
    assert changed.locator("del").inner_text() == "rare." and changed.locator("ins").inner_text() == "fine."
    shots(labeler_page, "12-labeler-asked-to-acknowledge")
