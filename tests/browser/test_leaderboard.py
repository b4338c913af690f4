"""The leaderboard as a reviewer reads it, on a laptop and a phone."""

import pytest

from tests.browser.ui import login, shots
from tests.factories import seed_evaluation
from tests.trainer_bridge.test_leaderboard import prefer, vote_all

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_leaderboard_shows_the_order_the_intervals_and_the_position_check(
    page, make_project, admin, add_member
):
    project = make_project(name="arena", kinds=["evaluation"], overlap=2)
    seed_evaluation(project, admin, 8, names=("base-sft", "dpo-round-1", "dpo-round-2"))
    order = ["dpo-round-2", "dpo-round-1", "base-sft"]
    vote_all(project, add_member(project, "lea"), prefer(order, tie_last_two=True))
    vote_all(project, add_member(project, "otto"), prefer(order))
    add_member(project, "rita", "reviewer")
    login(page, "rita")

    page.goto(f"/projects/{project.pk}/next/")
    page.get_by_role("link", name="Evaluation").click()
    table = page.locator("[data-leaderboard]")
    table.wait_for()

    assert table.locator("tbody td.version").all_inner_texts()[0].startswith("dpo-round-2")
    assert "baseline" in table.locator("tbody tr").nth(2).inner_text()
    assert page.get_by_role("img", name="Rating with its 95% interval").is_visible()
    assert "The answer on the left won" in page.locator("[data-position-bias]").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    shots(page, "23-leaderboard")
