import pytest

from guidelines.models import GuidelineVersion
from tests.browser.ui import login, shot

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_publishes_a_version_and_the_labeler_is_asked_to_acknowledge_it(
    new_page, make_project, add_member
):
    project = make_project()
    add_member(project, "lea")
    admin_page = new_page()
    login(admin_page, "ada")
    admin_page.goto(f"/projects/{project.pk}/guideline/edit/")
    body = admin_page.locator("#guideline-body")
    body.fill("# Ranking\n\nRank by helpfulness, then honesty.\n\n- Ties are **fine**.")
    admin_page.locator("#guideline-preview strong").get_by_text("fine").wait_for()  # the live preview
    admin_page.get_by_label("Change note").fill("Ties are allowed")
    shot(admin_page, "10-guideline-editor")
    admin_page.get_by_role("button", name="Publish as version 2").click()
    admin_page.get_by_text("Version 2 published").wait_for()
    admin_page.goto(f"/projects/{project.pk}/guideline/diff/1/2/")
    assert "+- Ties are **fine**." in admin_page.locator(".diff ins").all_inner_texts()
    shot(admin_page, "11-guideline-diff")
    assert (
        GuidelineVersion.objects.get(guideline=project.guideline, number=2).change_note == "Ties are allowed"
    )

    labeler_page = new_page()
    login(labeler_page, "lea")
    ack = labeler_page.locator(".guideline-ack")
    assert "Guideline version 2" in ack.inner_text() and "Ties are allowed" in ack.inner_text()
    shot(labeler_page, "12-labeler-asked-to-acknowledge")
