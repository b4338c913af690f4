"""The ranking page's keyboard legend, its panels and Esc, and a phone-sized screen."""

import re

import pytest

from labeling.models import Ranking, Task
from tests.browser.ui import login, shots
from tests.factories import seed_rankings

pytestmark = pytest.mark.django_db(transaction=True)


def _start(page, project) -> int:
    page.goto(f"/projects/{project.pk}/next/")
    page.get_by_role("button", name="Take the next task").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    page.wait_for_selector("[data-rank-form][data-ready]")
    return int(page.url.rstrip("/").rsplit("/", 1)[-1])


def _inside_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["y"] >= 0
        and box["x"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] + box["width"] <= size["width"]
    )


def test_every_shortcut_is_visible_at_1440x900_with_a_question_mark(page, make_project, add_member):
    project = make_project(k=9)
    seed_rankings(project, 1)
    add_member(project, "lea")
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, "lea")
    _start(page, project)

    page.keyboard.press("?")
    legend = page.get_by_role("dialog", name="Keyboard shortcuts")
    legend.wait_for()

    rows = legend.locator(".legend > div")
    assert rows.count() == 10
    for i in range(rows.count()):
        assert rows.nth(i).is_visible() and _inside_viewport(page, rows.nth(i)), rows.nth(i).inner_text()
    text = legend.inner_text()
    for shortcut in ["move between answers", "put the answer in that tier", "take the answer out",
                     "overall rating", "flags", "all answers are bad", "skip the task",
                     "submit and go to the next task", "close the flags"]:  # fmt: skip
        assert shortcut in text
    shots(page, "08-ranking-shortcuts", full_page=False)
    page.keyboard.press("Escape")
    legend.wait_for(state="hidden")
    page.keyboard.press("1")  # the page answers keys again: answer A went to tier 1
    assert page.locator('.chips[data-tier="1"] [data-chip]').all_inner_texts() == ["A"]
    page.get_by_role("button", name="Keyboard shortcuts").click()
    legend.wait_for()
    legend.get_by_role("button", name="Close").click()
    legend.wait_for(state="hidden")


def test_esc_closes_the_flags_and_moving_on_closes_them_too(page, make_project, add_member):
    project = make_project(k=4)
    seed_rankings(project, 1)
    add_member(project, "lea")
    login(page, "lea")
    _start(page, project)
    flags_of = lambda letter: page.locator(f'.candidate[data-letter="{letter}"] .flags')  # noqa: E731

    page.keyboard.press("f")
    assert flags_of("A").get_attribute("open") is not None
    page.keyboard.press("Escape")
    assert flags_of("A").get_attribute("open") is None
    assert page.evaluate("document.activeElement.dataset.letter") == "A"

    page.keyboard.press("f")
    page.keyboard.press("j")  # on to the next answer: A's flags close
    assert flags_of("A").get_attribute("open") is None
    assert page.evaluate("document.activeElement.dataset.letter") == "B"
    page.keyboard.press("f")
    page.keyboard.press("2")  # placing B moves on to C, and closes B's flags
    assert flags_of("B").get_attribute("open") is None

    page.keyboard.press("s")
    assert page.locator("[data-skip]").get_attribute("open") is not None
    page.keyboard.press("Escape")
    assert page.locator("[data-skip]").get_attribute("open") is None
    assert page.evaluate("document.activeElement.dataset.letter") == "C"


def test_the_submit_bar_stays_on_screen_at_390px_while_scrolling_through_the_answers(
    page, make_project, add_member
):
    project = make_project(k=9)
    seed_rankings(project, 2)
    add_member(project, "lea")
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "lea")
    first = _start(page, project)
    candidates = Task.objects.get(assignments__pk=first).candidate_ids
    bar = page.locator("[data-submit-bar]")
    submit = bar.get_by_role("button", name="Submit and next")

    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    answers = page.locator(".candidate")
    for i in range(answers.count()):
        answers.nth(i).scroll_into_view_if_needed()
        answers.nth(i).focus()
        page.keyboard.press(str(min(i + 1, 8)))  # tiers 1..8, the last two answers tie in tier 8
        assert submit.is_visible() and _inside_viewport(page, submit), f"answer {i}"
        assert _inside_viewport(page, bar), f"answer {i}"
    assert "all placed" in bar.inner_text()
    assert bar.locator(".bar-tier").first.inner_text().split() == ["1", "A"]
    page.locator(".candidate").nth(4).scroll_into_view_if_needed()
    shots(page, "09-ranking-narrow", full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    submit.click()

    page.wait_for_function(f"() => document.querySelector('#task').dataset.assignment !== '{first}'")
    tiers = Ranking.objects.get(assignment_id=first).tiers
    assert tiers[-1] == [candidates[7], candidates[8]] and len(tiers) == 8
