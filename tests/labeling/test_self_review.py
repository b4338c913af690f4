"""A reviewer does not accept, reject or edit their own work, unless the project allows it."""

from labeling.models import Review, Role
from labeling.services.projects import project_update
from tests.factories import seed_rankings


def _own_submission(project, add_member, api):
    seed_rankings(project, 1)
    rita = add_member(project, "rita", Role.REVIEWER)  # a reviewer may also label
    client = api(rita)
    leased = client.post(f"/api/projects/{project.pk}/next/").json()
    ids = [c["id"] for c in leased["candidates"]]
    client.post(f"/api/assignments/{leased['id']}/submit/", {"tiers": [ids]}, format="json")
    return rita, client, leased


def test_a_reviewer_cannot_accept_or_edit_their_own_work(project, add_member, api):
    rita, client, leased = _own_submission(project, add_member, api)
    url = f"/api/assignments/{leased['id']}/reviews/"
    ids = [c["id"] for c in leased["candidates"]]

    accept = client.post(url, {"verdict": "accept"}, format="json")
    edit = client.post(url, {"verdict": "edit", "edit": {"tiers": [[i] for i in ids]}}, format="json")

    assert accept.status_code == edit.status_code == 403
    assert "own work" in accept.json()["detail"] and not Review.objects.exists()
    other = api(add_member(project, "ravi", Role.REVIEWER))
    assert other.post(url, {"verdict": "accept"}, format="json").status_code == 201


def test_a_one_person_team_may_allow_self_review(project, add_member, api):
    project_update(project=project, allow_self_review=True)
    _, client, leased = _own_submission(project, add_member, api)
    response = client.post(f"/api/assignments/{leased['id']}/reviews/", {"verdict": "accept"}, format="json")
    assert response.status_code == 201


def test_the_review_page_offers_no_verdict_on_ones_own_work(project, add_member, api, client):
    rita, _, leased = _own_submission(project, add_member, api)
    client.force_login(rita)

    page = client.get(f"/review/tasks/{leased['task']['id']}/").content.decode()

    assert "Your own work: another reviewer accepts, rejects or edits it." in page
    assert "data-accept>" not in page and "data-edit>" not in page and "data-reject>" not in page
    assert "Your own work waits for another reviewer." in page
    assert client.post(f"/review/assignments/{leased['id']}/", {"verdict": "accept"}).status_code == 403
    # accept-and-next passes one's own work by: nothing is accepted, the page moves on
    assert client.post(f"/review/tasks/{leased['task']['id']}/accept-next/").status_code == 302
    assert not Review.objects.exists()


def test_a_project_made_through_the_api_may_allow_self_review(admin, api):
    response = api(admin).post(
        "/api/projects/",
        {"name": "solo", "task_kinds": ["ranking"], "allow_self_review": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["allow_self_review"] is True
