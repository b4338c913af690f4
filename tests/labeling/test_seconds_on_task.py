"""Time on task is bounded wherever it is written: a page or a client cannot store 1e308 seconds."""

import pytest

from labeling.models import Demonstration, Ranking
from labeling.services.annotations import MAX_SECONDS_ON_TASK
from tests.factories import seed_demonstrations, seed_rankings


def test_the_rank_form_stores_at_most_a_week_and_the_dashboard_still_adds_up(
    project, add_member, admin, client
):
    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    client.force_login(lea)
    for _ in range(2):
        page = client.post(f"/projects/{project.pk}/next/", follow=True)
        assignment = page.context["assignment"]
        form = {f"tier-{cid}": "1" for cid in assignment.task.candidate_ids} | {"seconds": "1e308"}
        client.post(f"/assignments/{assignment.pk}/rank/", form)

    assert set(Ranking.objects.values_list("seconds", flat=True)) == {MAX_SECONDS_ON_TASK}
    client.force_login(admin)
    assert client.get(f"/projects/{project.pk}/dashboard/").status_code == 200
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("seconds", ["abc", [1], {"a": 1}, True])
def test_a_review_edit_with_seconds_that_are_not_a_number_is_refused(project, add_member, api, seconds):
    seed_rankings(project, 1)
    lea = api(add_member(project, "lea"))
    leased = lea.post(f"/api/projects/{project.pk}/next/").json()
    ids = [c["id"] for c in leased["candidates"]]
    lea.post(f"/api/assignments/{leased['id']}/submit/", {"tiers": [ids]}, format="json")
    reviewer = api(add_member(project, "rita", "reviewer"))

    response = reviewer.post(
        f"/api/assignments/{leased['id']}/reviews/",
        {"verdict": "edit", "edit": {"tiers": [[i] for i in ids], "seconds": seconds}},
        format="json",
    )

    assert response.status_code == 400 and response.json()["field"] == "seconds"
    assert Ranking.objects.count() == 1


@pytest.mark.parametrize("edit", [["not", "an", "object"], "tiers"])
def test_a_review_edit_that_is_not_an_object_is_refused(project, add_member, api, edit):
    seed_demonstrations(project, 1)
    lea = api(add_member(project, "lea"))
    leased = lea.post(f"/api/projects/{project.pk}/next/").json()
    lea.post(
        f"/api/assignments/{leased['id']}/submit/",
        {"messages": [{"role": "assistant", "content": "The history, briefly: it began."}]},
        format="json",
    )
    reviewer = api(add_member(project, "rita", "reviewer"))

    response = reviewer.post(
        f"/api/assignments/{leased['id']}/reviews/", {"verdict": "edit", "edit": edit}, format="json"
    )

    assert response.status_code == 400 and response.json()["field"] == "edit"
    assert Demonstration.objects.count() == 1
