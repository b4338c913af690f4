"""A labeler compares two answers by keyboard, on a laptop and on a phone, and a reload loses nothing."""

import re

import pytest

from labeling.models import EvaluationVote
from tests.browser.ui import login, shots
from tests.factories import seed_evaluation

pytestmark = pytest.mark.django_db(transaction=True)


def _start(page, project) -> int:
    page.goto(f"/projects/{project.pk}/next/")
    page.get_by_role("button", name="Take the next task").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    page.wait_for_selector("[data-evaluate-form][data-ready]")
    return int(page.url.rstrip("/").rsplit("/", 1)[-1])


def _next(page, previous: int) -> int:
    """The next comparison, once it is on the page and ready for keys."""
    page.wait_for_function(
        f"() => document.querySelector('#task').dataset.assignment !== '{previous}'"
        " && !!document.querySelector('#task [data-ready]')"
    )
    return int(page.locator("#task").get_attribute("data-assignment"))


def _inside_viewport(page, locator) -> bool:
    box, size = locator.bounding_box(), page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


def test_voting_with_the_keyboard_only(page, make_project, admin, add_member):
    project = make_project(name="arena", kinds=["evaluation"])
    seed_evaluation(project, admin, 3)
    add_member(project, "lea")
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, "lea")
    first = _start(page, project)

    assert page.locator("[data-side]").all_inner_texts()[0].startswith("A\nAnswer A")
    page.keyboard.press("ArrowRight")  # B is better
    assert page.locator('[data-side="right"]').get_attribute("class") == "side chosen"
    assert "B is better. Enter submits." in page.locator("[data-status]").inner_text()
    page.keyboard.press("r")
    page.keyboard.type("B gives the steps in order.")
    page.keyboard.press("Escape")  # out of the reason: the keys choose again
    page.keyboard.press("?")
    legend = page.get_by_role("dialog", name="Keyboard shortcuts")
    legend.wait_for()
    assert "answer A is better" in legend.inner_text() and "a tie" in legend.inner_text()
    shots(page, "20-evaluation-shortcuts", full_page=False)
    page.keyboard.press("Escape")
    legend.wait_for(state="hidden")
    shots(page, "21-evaluation")
    page.keyboard.press("Enter")

    second = _next(page, first)
    assert "Vote saved." in page.locator("[data-notice]").inner_text()
    vote = EvaluationVote.objects.get(assignment_id=first)
    assert (vote.choice, vote.reason) == ("right", "B gives the steps in order.")

    page.keyboard.press("Enter")  # nothing chosen yet: nothing is sent
    assert "Choose A, B or a tie first." in page.locator("[data-status]").inner_text()
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    third = _next(page, second)
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    page.get_by_text("That was the last task for now").wait_for()
    votes = dict(EvaluationVote.objects.values_list("assignment_id", "choice"))
    assert votes == {first: "right", second: "tie", third: "left"}


def test_a_vote_half_made_comes_back_after_a_reload(page, make_project, admin, add_member):
    project = make_project(name="arena", kinds=["evaluation"])
    seed_evaluation(project, admin, 1)
    add_member(project, "lea")
    login(page, "lea")
    first = _start(page, project)

    page.keyboard.press("1")  # A is better
    page.get_by_label("Why? (optional)").fill("A answers; B wanders.")
    page.locator("[data-save-status]", has_text="Draft saved").wait_for()
    page.reload()
    page.wait_for_selector("[data-evaluate-form][data-ready]")

    assert page.locator('input[name="choice"][value="left"]').is_checked()
    assert page.get_by_label("Why? (optional)").input_value() == "A answers; B wanders."
    assert "A is better" in page.locator("[data-status]").inner_text()
    assert not EvaluationVote.objects.filter(assignment_id=first).exists()


def test_on_a_phone_the_answers_stack_and_the_vote_bar_stays_on_screen(page, make_project, admin, add_member):
    project = make_project(name="arena", kinds=["evaluation"])
    seed_evaluation(project, admin, 2)
    add_member(project, "lea")
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "lea")
    first = _start(page, project)
    bar = page.locator("[data-submit-bar]")

    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    left, right = (
        page.locator('[data-side="left"]').bounding_box(),
        page.locator('[data-side="right"]').bounding_box(),
    )
    assert right["y"] >= left["y"] + left["height"]  # B under A
    page.locator('[data-side="right"]').scroll_into_view_if_needed()
    assert _inside_viewport(page, bar)
    bar.get_by_role("button", name="B", exact=True).click()
    assert bar.get_by_role("button", name="B", exact=True).get_attribute("aria-pressed") == "true"
    assert page.locator('input[name="choice"][value="right"]').is_checked()
    shots(page, "22-evaluation-narrow", full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    bar.get_by_role("button", name="Submit and next").click()

    _next(page, first)
    assert EvaluationVote.objects.get(assignment_id=first).choice == "right"
