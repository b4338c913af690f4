"""A labeler compares two answers on the evaluation page: blind, saved as a draft, submitted or skipped."""

import re

import pytest

from labeling.models import Assignment, Candidate, EvaluationVote, Task
from labeling.services.queue import claim_next_task
from tests.factories import distinctive_candidate_ids, seed_evaluation


@pytest.fixture
def arena(make_project, admin):
    distinctive_candidate_ids()
    project = make_project(name="arena", kinds=["evaluation"])
    seed_evaluation(project, admin, 2, names=("gpt-ish-7b-v1", "gpt-ish-7b-v2"))
    return project


def test_the_page_shows_both_answers_by_letter_and_nothing_that_names_their_model(
    arena, add_member, client_for, django_assert_max_num_queries
):
    lea = add_member(arena, "lea")
    assignment = claim_next_task(project=arena, labeler=lea)
    left, right = (
        Candidate.objects.get(pk=pk) for pk in Task.objects.get(pk=assignment.task_id).candidate_ids
    )

    client = client_for(lea)

    with django_assert_max_num_queries(6):  # as few as the ranking page's
        response = client.get(f"/assignments/{assignment.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Explain idea number" in html and "Which answer is better?" in html
    a, b = html.index("Answer A"), html.index("Answer B")
    assert a < html.index(left.text) < b < html.index(right.text)  # the left answer is A, shown first
    assert "gpt-ish" not in html  # neither version's name, nor the name its answers were imported under
    for candidate in (left, right):  # nor the answers' ids, which follow the order each version's were stored
        assert candidate.pk > 987650 and str(candidate.pk) not in html


def test_a_vote_without_a_choice_is_refused_with_what_to_do_and_keeps_the_reason(
    arena, add_member, client_for
):
    lea = add_member(arena, "lea")
    assignment = claim_next_task(project=arena, labeler=lea)

    response = client_for(lea).post(
        f"/assignments/{assignment.pk}/evaluate/",
        {"why": "B is kinder", "seconds": "12"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose the better answer, or a tie." in html
    assert ">B is kinder</textarea>" in html
    assert not EvaluationVote.objects.exists()


def test_the_draft_comes_back_on_reload_and_the_vote_opens_the_next_comparison(arena, add_member, client_for):
    lea = add_member(arena, "lea")
    assignment = claim_next_task(project=arena, labeler=lea)
    client = client_for(lea)

    saved = client.post(
        f"/assignments/{assignment.pk}/evaluate/draft/",
        {"choice": "right", "why": "B cites", "seconds": "30"},
    )
    assert saved.status_code == 200 and "saved_at" in saved.json()
    page = client.get(f"/assignments/{assignment.pk}/").content.decode()
    assert re.search(r'name="choice" value="right" checked', page)
    assert ">B cites</textarea>" in page and 'name="seconds" value="30"' in page

    response = client.post(
        f"/assignments/{assignment.pk}/evaluate/",
        {"choice": "right", "why": "B cites a source.", "seconds": "31"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200 and "Vote saved." in response.content.decode()
    vote = EvaluationVote.objects.get(assignment=assignment)
    assert (vote.choice, vote.reason, vote.seconds) == ("right", "B cites a source.", 31)
    following = Assignment.objects.get(labeler=lea, state="active")
    assert response["HX-Push-Url"] == f"/assignments/{following.pk}/"


def test_a_bad_draft_is_refused_as_json_naming_the_field(arena, add_member, client_for):
    lea = add_member(arena, "lea")
    assignment = claim_next_task(project=arena, labeler=lea)

    response = client_for(lea).post(f"/assignments/{assignment.pk}/evaluate/draft/", {"choice": "middle"})

    assert response.status_code == 400 and response.json()["field"] == "choice"


def test_skipping_a_comparison_needs_a_reason_and_keeps_the_vote_on_the_page(arena, add_member, client_for):
    lea = add_member(arena, "lea")
    assignment = claim_next_task(project=arena, labeler=lea)
    client = client_for(lea)

    refused = client.post(
        f"/assignments/{assignment.pk}/skip/",
        {"choice": "left", "why": "A", "reason": ""},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 400
    assert re.search(r'name="choice" value="left" checked', refused.content.decode())

    skipped = client.post(
        f"/assignments/{assignment.pk}/skip/", {"reason": "not my language"}, HTTP_HX_REQUEST="true"
    )
    assert skipped.status_code == 200 and "Task skipped." in skipped.content.decode()
    assert Assignment.objects.get(pk=assignment.pk).state == "skipped"
