import re

import pytest

from guidelines.services import guideline_publish
from tests.browser.ui import login, shot, shots
from tests.factories import seed_rankings

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_labeler_logs_in_acknowledges_the_new_guideline_and_starts(page, make_project, admin, add_member):
    project = make_project(k=4)
    seed_rankings(project, 2)
    add_member(project, "lea")  # acknowledges version 1
    guideline_publish(
        guideline=project.guideline,
        author=admin,
        body="Rank by helpfulness, then honesty.\n\nAn honest *I don't know* beats a confident wrong answer.",
        change_note="Honesty over confidence",
    )

    page.goto("/login/")
    shot(page, "01-login")
    login(page, "lea")

    ack = page.locator(".guideline-ack")
    assert "Guideline version 2" in ack.inner_text()
    assert "Honesty over confidence" in ack.inner_text()
    assert ack.locator(".diff ins em").inner_text() == "I don't know"  # what changed, rendered
    shots(page, "02-home-new-guideline")
    ack.get_by_role("button", name="I have read version 2").click()

    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    assert page.locator(".candidate").count() == 4
