"""Removing a member ends their access on every path at once, and hands their leased tasks back."""

from labeling.models import Assignment, Ranking, Task
from labeling.services.projects import membership_remove
from tests.factories import seed_rankings


def test_a_removed_member_can_no_longer_read_renew_or_submit_through_the_api(project, add_member, admin, api):
    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    client = api(lea)
    leased = client.post(f"/api/projects/{project.pk}/next/").json()
    url = f"/api/assignments/{leased['id']}"
    ids = [c["id"] for c in leased["candidates"]]
    assert client.get(f"{url}/").status_code == 200

    membership_remove(project=project, user=lea)

    assert client.get(f"{url}/").status_code == 404
    assert client.post(f"{url}/renew/").status_code == 404
    assert client.post(f"{url}/submit/", {"tiers": [[i] for i in ids]}, format="json").status_code == 404
    assert client.post(f"/api/projects/{project.pk}/next/").status_code == 404
    assert not Ranking.objects.exists()


def test_removing_a_member_releases_their_live_leases_to_the_pool(project, add_member, api):
    seed_rankings(project, 1)
    lea, otto = add_member(project, "lea"), add_member(project, "otto")
    leased = api(lea).post(f"/api/projects/{project.pk}/next/").json()
    task = Task.objects.get(pk=leased["task"]["id"])
    assert task.claimed_count == 1 and api(otto).post(f"/api/projects/{project.pk}/next/").status_code == 204

    assert membership_remove(project=project, user=lea) == 1

    task.refresh_from_db()
    assert task.claimed_count == 0
    assert Assignment.objects.get(pk=leased["id"]).state == Assignment.State.RELEASED
    assert api(otto).post(f"/api/projects/{project.pk}/next/").json()["task"]["id"] == task.pk


def test_the_settings_page_says_how_many_leases_went_back(project, add_member, admin, client):
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    client.force_login(lea)
    client.post(f"/projects/{project.pk}/next/")
    client.force_login(admin)

    page = client.post(f"/projects/{project.pk}/members/{lea.pk}/remove/", follow=True).content.decode()

    assert "lea left the project; 1 leased task(s) went back to the pool." in page
