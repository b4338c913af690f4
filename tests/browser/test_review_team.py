import re

import pytest

from labeling.models import CandidateRating, Ranking, Review, Role, Task
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from tests.browser.ui import login, shots
from tests.factories import seed_rankings

pytestmark = pytest.mark.django_db(transaction=True)


def _rank_everything(project, labeler, order) -> None:
    while (assignment := claim_next_task(project=project, labeler=labeler)) is not None:
        ids = sorted(Task.objects.get(pk=assignment.task_id).candidate_ids)
        ranking_submit(
            assignment_id=assignment.pk,
            labeler=labeler,
            tiers=[[c] for c in order(ids, assignment.task_id)],
            seconds=30,
        )


@pytest.fixture
def reviewed_by_a_team(make_project, add_member):
    """Three ranking tasks, each ranked by lea and otto; otto reverses lea on the first task only."""
    project = make_project(overlap=2, k=4)
    task_ids = seed_rankings(project, 3)
    _rank_everything(project, add_member(project, "lea"), lambda ids, task: ids)
    _rank_everything(
        project, add_member(project, "otto"), lambda ids, task: ids[::-1] if task == task_ids[0] else ids
    )
    add_member(project, "rhea", Role.REVIEWER)
    return project, task_ids


def _task_on_page(page) -> int:
    page.wait_for_url(re.compile(r"/review/tasks/\d+/"))
    return int(re.search(r"/review/tasks/(\d+)/", page.url)[1])


def test_accept_and_next_lands_on_the_next_task(page, reviewed_by_a_team):
    project, task_ids = reviewed_by_a_team
    login(page, "rhea")
    page.goto(f"/projects/{project.pk}/review/")
    waiting = page.locator("[data-review-waiting]").inner_text()
    assert "3 tasks with 6 submissions waiting for review." in waiting
    shots(page, "07-review-queue")
    rows = page.locator("tr[data-task]").evaluate_all("rows => rows.map(r => r.dataset.task)")
    order = [int(t) for t in rows]
    assert sorted(order) == sorted(task_ids)

    page.get_by_role("link", name="Review these tasks, one after another").click()
    first = _task_on_page(page)
    page.wait_for_selector("[data-review][data-ready]")
    assert first == order[0]
    assert page.get_by_role("heading", name=re.compile(f"^Task {first}")).is_visible()
    legend = page.locator(".review-legend")
    assert legend.is_visible() and "accept what is not reviewed, next task" in legend.inner_text()

    page.keyboard.press("a")  # accept both submissions, on to the next task
    page.wait_for_url(re.compile(f"/review/tasks/{order[1]}/"))
    assert f"Task {first}: accepted 2 submissions (lea, otto)." in page.locator(".flash").inner_text()
    assert page.get_by_role("heading", name=re.compile(f"^Task {order[1]}")).is_visible()

    page.get_by_role("button", name="Accept and next").click()
    assert _task_on_page(page) == order[2]
    page.get_by_role("button", name="Accept and next").click()
    page.wait_for_url(re.compile(f"/projects/{project.pk}/review/"))
    assert "Nothing else waits for review here." in page.locator("#flash").inner_text()
    assert Review.objects.filter(verdict="accept").count() == 6


def test_a_reviewer_sees_where_labelers_disagree_and_edits_a_ranking_beside_the_answers(
    page, reviewed_by_a_team
):
    project, task_ids = reviewed_by_a_team
    disputed = task_ids[0]
    login(page, "rhea")
    page.goto(f"/projects/{project.pk}/review/?agreement=25")
    assert page.locator("tr[data-task]").count() == 1  # only the task where lea and otto disagree
    page.get_by_role("link", name=f"#{disputed}").click()
    _task_on_page(page)
    page.wait_for_selector("[data-review][data-ready]")

    agreement = page.locator("[data-task-agreement]").inner_text()
    assert "Labelers agree on 0% of answer pairs (0 of 6)" in agreement
    assert "they place 2 answers far apart" in agreement
    assert page.locator("tr.disputed").count() == 2
    assert (
        page.locator("tr.disputed [data-dispute]").all_inner_texts()
        == ["Labelers disagree: placed 1st to 4th"] * 2
    )
    shots(page, "08-review-disagreement")

    page.keyboard.press("2")  # choose otto's submission
    assert "chosen" in page.locator('[data-submission="2"]').get_attribute("class")
    page.keyboard.press("e")
    page.wait_for_selector("[data-review-edit][data-ready]")
    cards = page.locator(".candidate")
    assert cards.count() == 4
    shown = Task.objects.get(pk=disputed).candidate_ids  # the answers A-D in the order the page shows them
    lea_place = sorted(shown).index(shown[0]) + 1
    assert f"lea: {lea_place}" in cards.nth(0).locator(".others").inner_text()  # where lea put A
    assert page.evaluate("document.activeElement.dataset.letter") == "A"
    page.keyboard.press("Shift+Digit5")  # rate A 5 of 7
    page.keyboard.press("f")
    page.get_by_label("Hallucination").first.check()
    page.keyboard.press("Escape")  # the flags close, A keeps the focus
    assert page.locator(".candidate .flags[open]").count() == 0
    for key in ["1", "2", "2", "3"]:  # A best, B and C tied, D last
        page.keyboard.press(key)
    assert page.locator('.chips[data-tier="2"] [data-chip]').count() == 2
    shots(page, "09-review-edit-ranking")
    page.keyboard.press("Enter")

    page.wait_for_selector(".flash")
    assert "Edit saved (otto)." in page.locator(".flash").inner_text()
    edited = Ranking.objects.get(assignment__labeler__username="otto", task_id=disputed, is_current=True)
    assert edited.revision == 2 and edited.tiers == [[shown[0]], [shown[1], shown[2]], [shown[3]]]
    rating = CandidateRating.objects.get(ranking=edited, candidate_id=shown[0])
    assert (rating.overall, rating.hallucination) == (5, True)
    assert page.locator('[data-submission="2"] .badge').first.inner_text() == "edited"
