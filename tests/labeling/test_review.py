import pytest

from labeling.models import Demonstration, Ranking, Review, Task
from tests.factories import jsonl, seed_rankings


@pytest.fixture
def submitted(project, add_member, api):
    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    client = api(lea)
    body = client.post(f"/api/projects/{project.pk}/next/").json()
    ids = [c["id"] for c in body["candidates"]]
    client.post(f"/api/assignments/{body['id']}/submit/", {"tiers": [[i] for i in ids]}, format="json")
    reviewer = api(add_member(project, "rita", "reviewer"))
    return body, ids, reviewer


def test_an_edit_is_a_new_revision_and_the_original_stays(submitted):
    body, ids, reviewer = submitted
    edited = [[ids[-1]], ids[:-1]]
    response = reviewer.post(
        f"/api/assignments/{body['id']}/reviews/",
        {"verdict": "edit", "edit": {"tiers": edited}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    original, revision = Ranking.objects.filter(assignment_id=body["id"]).order_by("revision")
    assert (
        original.tiers == [[i] for i in ids] and not original.is_current and original.author.username == "lea"
    )
    assert revision.tiers == edited and revision.is_current and revision.previous == original
    assert revision.author.username == "rita"


def test_a_rejection_needs_a_reason_and_returns_the_task_to_the_pool(submitted, project, add_member, api):
    body, _, reviewer = submitted
    url = f"/api/assignments/{body['id']}/reviews/"
    assert reviewer.post(url, {"verdict": "reject"}, format="json").status_code == 400
    assert (
        reviewer.post(
            url, {"verdict": "reject", "reason": "ignored the guideline"}, format="json"
        ).status_code
        == 201
    )
    task = Task.objects.get(pk=body["task"]["id"])
    assert (task.status, task.completed_count, task.claimed_count) == ("open", 0, 0)
    otto = api(add_member(project, "otto"))
    assert otto.post(f"/api/projects/{project.pk}/next/").json()["task"]["id"] == task.pk


def test_a_labeler_cannot_review(submitted, project, add_member, api):
    body, _, _ = submitted
    otto = api(add_member(project, "otto"))
    response = otto.post(f"/api/assignments/{body['id']}/reviews/", {"verdict": "accept"}, format="json")
    assert response.status_code == 403 and not Review.objects.exists()


def test_editing_a_demonstration_keeps_the_labelers_text(make_project, add_member, api):
    from labeling.services.imports import prompts_import

    project = make_project(kinds=["demonstration"])
    prompts_import(project=project, fmt="jsonl", stream=jsonl([{"prompt": "Greet me."}]))
    lea = api(add_member(project, "lea"))
    body = lea.post(f"/api/projects/{project.pk}/next/").json()
    lea.post(
        f"/api/assignments/{body['id']}/submit/",
        {"messages": [{"role": "assistant", "content": "yo"}]},
        format="json",
    )
    reviewer = api(add_member(project, "rita", "reviewer"))
    reviewer.post(
        f"/api/assignments/{body['id']}/reviews/",
        {"verdict": "edit", "edit": {"messages": [{"role": "assistant", "content": "Hello!"}]}},
        format="json",
    )
    texts = [d.messages[-1]["content"] for d in Demonstration.objects.order_by("revision")]
    assert texts == ["yo", "Hello!"]
