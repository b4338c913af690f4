"""A rejected submission accepted again later never gives its task more labels than it needs."""

from labeling.models import Task
from tests.factories import seed_rankings


def test_accepting_rejected_work_after_another_labeler_filled_the_slot_is_refused(project, add_member, api):
    seed_rankings(project, 1)  # overlap 1: the task wants one label
    rita = api(add_member(project, "rita", "reviewer"))

    def label(name: str) -> int:
        client = api(add_member(project, name))
        leased = client.post(f"/api/projects/{project.pk}/next/").json()
        ids = [c["id"] for c in leased["candidates"]]
        client.post(f"/api/assignments/{leased['id']}/submit/", {"tiers": [ids]}, format="json")
        return leased["id"]

    first = label("lea")
    reject = {"verdict": "reject", "reason": "tied everything"}
    assert rita.post(f"/api/assignments/{first}/reviews/", reject, format="json").status_code == 201
    second = label("otto")
    assert (
        rita.post(f"/api/assignments/{second}/reviews/", {"verdict": "accept"}, format="json").status_code
        == 201
    )

    flip = rita.post(f"/api/assignments/{first}/reviews/", {"verdict": "accept"}, format="json")

    assert flip.status_code == 409 and flip.json()["field"] == "verdict"
    task = Task.objects.get()
    assert (task.completed_count, task.claimed_count, task.required_count) == (1, 1, 1)
