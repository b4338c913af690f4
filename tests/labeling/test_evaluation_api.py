"""Blind A/B evaluation through the API: the task by sides only, a vote, a retried vote, a reviewer's edit."""

import json

import pytest

from labeling.models import Candidate, EvaluationVote, Task
from tests.factories import distinctive_candidate_ids, seed_evaluation


@pytest.fixture
def arena(make_project, admin):
    distinctive_candidate_ids()
    project = make_project(name="arena", kinds=["evaluation"])
    seed_evaluation(project, admin, 2, names=("orca-13b-v3", "orca-13b-v4"))
    return project


def test_the_next_task_shows_two_answers_by_side_and_nothing_that_names_their_model(arena, add_member, api):
    lea = add_member(arena, "lea")
    client = api(lea)

    response = client.post(f"/api/projects/{arena.pk}/next/")

    assert response.status_code == 200
    body = response.json()
    task = Task.objects.get(pk=body["task"]["id"])
    left, right = (Candidate.objects.get(pk=pk) for pk in task.candidate_ids)
    assert body["task"]["kind"] == "evaluation" and body["candidates"] == []
    assert body["answers"] == [{"side": "left", "text": left.text}, {"side": "right", "text": right.text}]
    for shown in (
        response.content.decode(),
        json.dumps(client.get(f"/api/assignments/{body['id']}/").json()),
    ):
        assert "orca" not in shown
        assert str(left.pk) not in shown and str(right.pk) not in shown
        assert "model" not in shown and "sampling" not in shown


def test_a_vote_through_the_api_is_stored_once(arena, add_member, api):
    lea = add_member(arena, "lea")
    client = api(lea)
    assignment = client.post(f"/api/projects/{arena.pk}/next/").json()["id"]

    first = client.post(
        f"/api/assignments/{assignment}/submit/",
        {"choice": "right", "reason": "B is correct."},
        format="json",
    )
    again = client.post(f"/api/assignments/{assignment}/submit/", {"choice": "left"}, format="json")

    assert first.status_code == 201 and again.status_code == 200
    assert first.json() == again.json()
    assert first.json() | {"id": 0} == {
        "kind": "evaluation",
        "id": 0,
        "choice": "right",
        "reason": "B is correct.",
        "revision": 1,
        "assignment": assignment,
    }
    assert EvaluationVote.objects.count() == 1


@pytest.mark.parametrize(
    "body,field", [({"choice": "both"}, "choice"), ({"choice": "tie", "reason": "x" * 2001}, "reason")]
)
def test_a_bad_vote_gets_a_400_naming_the_field(arena, add_member, api, body, field):
    lea = add_member(arena, "lea")
    client = api(lea)
    assignment = client.post(f"/api/projects/{arena.pk}/next/").json()["id"]

    response = client.post(f"/api/assignments/{assignment}/submit/", body, format="json")

    assert response.status_code == 400 and response.json()["field"] == field
    assert not EvaluationVote.objects.exists()


def test_a_reviewer_edits_a_vote_and_both_revisions_are_listed(arena, add_member, api):
    lea, rhea = add_member(arena, "lea"), add_member(arena, "rhea", "reviewer")
    assignment = api(lea).post(f"/api/projects/{arena.pk}/next/").json()["id"]
    api(lea).post(f"/api/assignments/{assignment}/submit/", {"choice": "left"}, format="json")

    edited = api(rhea).post(
        f"/api/assignments/{assignment}/reviews/",
        {"verdict": "edit", "edit": {"choice": "tie", "reason": "equally good"}},
        format="json",
    )

    assert edited.status_code == 201 and edited.json()["verdict"] == "edit"
    rows = api(rhea).get(f"/api/projects/{arena.pk}/annotations/?kind=evaluation").json()
    assert [(r["choice"], r["reason"], r["revision"]) for r in rows] == [("tie", "equally good", 2)]
    mine = api(lea).get(f"/api/projects/{arena.pk}/annotations/?kind=evaluation").json()
    assert [r["assignment"] for r in mine] == [assignment]
