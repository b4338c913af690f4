from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import Assignment, CandidateRating, Ranking, Task
from tests.factories import seed_rankings


@pytest.fixture
def claimed(project, add_member, api):
    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    client = api(lea)
    body = client.post(f"/api/projects/{project.pk}/next/").json()
    return client, body


def _submit(client, assignment_id, **payload):
    return client.post(f"/api/assignments/{assignment_id}/submit/", payload, format="json")


def test_a_ranking_with_ties_and_ratings_is_stored_with_its_guideline_version(claimed, project):
    client, body = claimed
    ids = [c["id"] for c in body["candidates"]]
    response = _submit(
        client,
        body["id"],
        tiers=[[ids[2]], [ids[0], ids[1]], [ids[3]]],
        seconds=42.5,
        ratings=[
            {"candidate": ids[2], "overall": 7, "satisfies_constraints": True},
            {"candidate": ids[3], "overall": 1, "hallucination": True, "harmful_advice": True},
        ],
    )
    assert response.status_code == 201, response.json()
    ranking = Ranking.objects.get(assignment_id=body["id"])
    assert ranking.tiers == [[ids[2]], [ids[0], ids[1]], [ids[3]]]
    assert ranking.seconds == 42.5 and ranking.revision == 1 and ranking.is_current
    assert ranking.guideline_version.number == 1
    worst = CandidateRating.objects.get(ranking=ranking, candidate_id=ids[3])
    assert worst.overall == 1 and worst.hallucination and worst.harmful_advice and not worst.sexual_content
    task = Task.objects.get(pk=body["task"]["id"])
    assert task.completed_count == 1 and task.status == "done"


def test_a_retried_submit_returns_the_first_result_and_counts_once(claimed):
    client, body = claimed
    ids = [c["id"] for c in body["candidates"]]
    first = _submit(client, body["id"], tiers=[[i] for i in ids])
    retry = _submit(client, body["id"], tiers=[[i] for i in reversed(ids)])
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["tiers"] == [[i] for i in ids]
    assert Ranking.objects.filter(assignment_id=body["id"]).count() == 1
    assert Task.objects.get(pk=body["task"]["id"]).completed_count == 1


def test_all_bad_without_tiers_stores_one_shared_tier(claimed):
    client, body = claimed
    response = _submit(client, body["id"], all_bad=True)
    assert response.status_code == 201
    ranking = Ranking.objects.get(assignment_id=body["id"])
    assert ranking.all_bad and ranking.tiers == [[c["id"] for c in body["candidates"]]]


@pytest.mark.parametrize(
    ("make_tiers", "message"),
    [
        (lambda ids, other: [], "empty"),
        (lambda ids, other: [[i] for i in ids[:-1]], "missing"),
        (lambda ids, other: [[ids[0]], [ids[0]]] + [[i] for i in ids[2:]], "more than once"),
        (lambda ids, other: [[i] for i in ids[:-1]] + [[other[0]]], "not candidates of this task"),
        (lambda ids, other: [[i] for i in ids[:-1]] + [[999999]], "not candidates of this task"),
        (lambda ids, other: [[i] for i in ids[:-1]] + [[]], "non-empty"),
        (lambda ids, other: [[i] for i in ids] + [[999999]], "at most 4 tiers"),
        (lambda ids, other: [ids + [999999]], "more than the task's 4 candidate ids"),
        (lambda ids, other: [[str(i)] for i in ids], "not a candidate id"),
        (lambda ids, other: [ids[0], ids[1:]], "non-empty list"),
    ],
    ids=[
        "empty",
        "missing",
        "duplicate",
        "foreign",
        "unknown",
        "empty-tier",
        "tiers",
        "ids",
        "wrong-type",
        "not-a-tier",
    ],
)
def test_a_bad_ranking_is_refused_with_the_reason_and_stores_nothing(claimed, project, make_tiers, message):
    client, body = claimed
    ids = [c["id"] for c in body["candidates"]]
    other_task = Task.objects.exclude(pk=body["task"]["id"]).get(project=project, kind="ranking")
    response = _submit(client, body["id"], tiers=make_tiers(ids, other_task.candidate_ids))
    assert response.status_code == 400
    assert response.json()["field"] == "tiers" and message in response.json()["detail"]
    assert not Ranking.objects.exists()
    assert Assignment.objects.get(pk=body["id"]).state == "active"


def test_bad_ratings_are_refused(claimed):
    client, body = claimed
    ids = [c["id"] for c in body["candidates"]]
    response = _submit(client, body["id"], tiers=[ids], ratings=[{"candidate": ids[0], "overall": 9}])
    assert response.status_code == 400 and response.json()["field"] == "ratings"
    assert not Ranking.objects.exists()


def test_someone_elses_assignment_is_refused(claimed, project, add_member, api):
    _, body = claimed
    otto = api(add_member(project, "otto"))
    ids = [c["id"] for c in body["candidates"]]
    response = _submit(otto, body["id"], tiers=[ids])
    assert response.status_code == 403
    assert not Ranking.objects.exists()


def test_an_expired_assignment_is_refused(claimed):
    client, body = claimed
    Assignment.objects.filter(pk=body["id"]).update(lease_expires_at=timezone.now() - timedelta(seconds=5))
    response = _submit(client, body["id"], tiers=[[c["id"] for c in body["candidates"]]])
    assert response.status_code == 409 and response.json()["error"] == "lease_expired"
    assert not Ranking.objects.exists()


def test_a_ranking_for_a_demonstration_task_is_the_wrong_kind(make_project, add_member, api):
    project = make_project(kinds=["demonstration"])
    from labeling.services.imports import prompts_import
    from tests.factories import jsonl

    prompts_import(project=project, fmt="jsonl", stream=jsonl([{"prompt": "Say hello."}]))
    client = api(add_member(project, "lea"))
    body = client.post(f"/api/projects/{project.pk}/next/").json()
    response = _submit(client, body["id"], tiers=[[1]])
    assert response.status_code == 400 and response.json()["error"] == "wrong_kind"
