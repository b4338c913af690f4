import re

import pytest

from labeling.models import Assignment, CandidateRating, Ranking, Task
from tests.browser.ui import login, shot, shots
from tests.factories import seed_rankings

pytestmark = pytest.mark.django_db(transaction=True)


def _start(page, project) -> int:
    page.goto(f"/projects/{project.pk}/next/")
    page.get_by_role("button", name="Take the next task").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    page.wait_for_selector("[data-rank-form][data-ready]")
    return int(page.url.rstrip("/").rsplit("/", 1)[-1])


def test_ranking_nine_candidates_with_the_keyboard_only(page, make_project, add_member):
    project = make_project(k=9)
    seed_rankings(project, 2)
    add_member(project, "lea")
    login(page, "lea")
    first = _start(page, project)
    candidates = Task.objects.get(assignments__pk=first).candidate_ids

    # Focus lands on answer A. Tiers 1,2,2,3,4,5,6,7,8 (B and C tie); rate A 7 and flag nothing.
    assert page.evaluate("document.activeElement.dataset.letter") == "A"
    page.keyboard.press("Shift+Digit7")
    for key in ["1", "2", "2", "3", "4", "5", "6", "7", "8"]:
        page.keyboard.press(key)
    assert page.evaluate("document.activeElement.dataset.letter") == "I"  # the last one keeps focus
    page.keyboard.press("0")  # take I out, and put it back
    assert page.locator(".pool [data-chip]").count() == 1
    page.keyboard.press("8")
    assert page.locator(".pool [data-chip]").count() == 0
    assert page.locator('.chips[data-tier="2"] [data-chip]').count() == 2
    shot(page, "03-ranking-keyboard")
    page.keyboard.press("Enter")

    page.wait_for_function(f"() => document.querySelector('#task').dataset.assignment !== '{first}'")
    assert re.search(r"/assignments/\d+/$", page.url) and not page.url.endswith(f"/{first}/")
    assert "Ranking saved." in page.locator("[data-notice]").inner_text()
    ranking = Ranking.objects.get(assignment_id=first)
    c = candidates
    assert ranking.tiers == [[c[0]], [c[1], c[2]], [c[3]], [c[4]], [c[5]], [c[6]], [c[7]], [c[8]]]
    assert CandidateRating.objects.get(ranking=ranking, candidate_id=c[0]).overall == 7
    assert Assignment.objects.filter(labeler__username="lea", state="active").count() == 1


def test_ranking_with_drag_and_drop(page, make_project, add_member):
    project = make_project(k=4)
    seed_rankings(project, 2)
    add_member(project, "lea")
    login(page, "lea")
    first = _start(page, project)
    candidates = Task.objects.get(assignments__pk=first).candidate_ids

    for letter, tier in [("D", "1"), ("A", "2"), ("C", "2"), ("B", "3")]:
        lane = page.locator(f'.chips[data-tier="{tier}"]')
        box = lane.bounding_box()
        page.locator(f'[data-chip="{candidates["ABCD".index(letter)]}"]').drag_to(
            lane, target_position={"x": box["width"] - 12, "y": box["height"] / 2}, steps=8
        )
        page.wait_for_timeout(200)  # let the drop animation finish, as a person's hand would
    assert page.locator(f'select[name="tier-{candidates[2]}"]').input_value() == "2"
    shot(page, "04-ranking-drag-and-drop")
    page.get_by_role("button", name="Submit and next").click()

    page.wait_for_function(f"() => document.querySelector('#task').dataset.assignment !== '{first}'")
    a, b, c, d = candidates
    assert Ranking.objects.get(assignment_id=first).tiers == [[d], [a, c], [b]]


def test_submitting_with_answers_left_unplaced_says_so_and_sends_nothing(page, make_project, add_member):
    project = make_project(k=4)
    seed_rankings(project, 1)
    add_member(project, "lea")
    login(page, "lea")
    first = _start(page, project)

    page.keyboard.press("1")
    page.keyboard.press("Enter")

    assert "3 left" in page.locator("[data-status]").inner_text()
    assert not Ranking.objects.filter(assignment_id=first).exists()


def test_a_half_done_ranking_comes_back_after_a_reload(page, make_project, add_member):
    project = make_project(k=4)
    seed_rankings(project, 1)
    add_member(project, "lea")
    login(page, "lea")
    first = _start(page, project)
    a, b, c, d = Task.objects.get(assignments__pk=first).candidate_ids

    # Rate A 6 and put it in tier 1, put B in tier 2 and flag it; C and D stay unplaced.
    page.keyboard.press("Shift+Digit6")
    page.keyboard.press("1")
    page.keyboard.press("2")
    card_b = page.locator(f"#candidate-{b}")
    card_b.locator(".flags summary").click()
    card_b.get_by_label("Hallucination").check()
    page.locator("[data-save-status]", has_text="Draft saved").wait_for()
    page.reload()
    page.wait_for_selector("[data-rank-form][data-ready]")

    assert page.locator(f'select[name="tier-{a}"]').input_value() == "1"
    assert page.locator(f'select[name="tier-{b}"]').input_value() == "2"
    assert page.locator(f'select[name="tier-{c}"]').input_value() == ""
    assert page.locator(f'input[name="overall-{a}"][value="6"]').is_checked()
    assert page.locator(f'input[name="hallucination-{b}"]').is_checked()
    assert page.locator('.chips[data-tier="1"] [data-chip]').all_inner_texts() == ["A"]
    assert page.locator(".pool [data-chip]").all_inner_texts() == ["C", "D"]
    assert "2 of 4 answers not placed yet." in page.locator("[data-status]").inner_text()
    assert "(1)" in card_b.locator("[data-flag-count]").inner_text()


def test_a_submitted_ranking_is_changed_until_it_is_reviewed(page, make_project, add_member):
    project = make_project(k=4)
    seed_rankings(project, 2)
    add_member(project, "lea")
    login(page, "lea")
    first = _start(page, project)
    a, b, c, d = Task.objects.get(assignments__pk=first).candidate_ids
    for key in ["1", "2", "3", "4"]:
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelector('#task').dataset.assignment !== '{first}'")

    page.get_by_role("link", name="Change it").click()
    page.wait_for_url(f"**/assignments/{first}/")
    page.wait_for_selector("[data-rank-form][data-ready]")
    assert "You submitted this ranking." in page.locator("[data-changing]").inner_text()
    assert page.locator(f'select[name="tier-{d}"]').input_value() == "4"
    shots(page, "07-ranking-change")
    page.locator(f"#candidate-{d}").focus()
    page.keyboard.press("1")
    page.get_by_role("button", name="Save changes").click()

    page.get_by_text("Your changes to the ranking are saved.").wait_for()
    ranking = Ranking.objects.get(assignment_id=first, is_current=True)
    assert ranking.revision == 2 and ranking.tiers == [[a, d], [b], [c]]
    assert Task.objects.get(assignments__pk=first).completed_count == 1
