import pytest
from django.db import ProgrammingError, transaction

from guidelines.models import GuidelineVersion
from guidelines.selectors import guideline_version_diff
from guidelines.services import guideline_publish


def test_publishing_numbers_versions_and_a_published_version_never_changes(project, admin):
    v2 = guideline_publish(
        guideline=project.guideline, author=admin, body="Rank by honesty first.", change_note="c"
    )
    assert v2.number == 2
    with pytest.raises(ProgrammingError, match="never changes"), transaction.atomic():
        GuidelineVersion.objects.filter(pk=v2.pk).update(body="rewritten")
    assert GuidelineVersion.objects.get(pk=v2.pk).body == "Rank by honesty first."


def test_the_diff_shows_what_changed(project, admin):
    v1 = project.guideline.versions.get(number=1)
    v2 = guideline_publish(guideline=project.guideline, author=admin, body=v1.body + "\nTies are fine.")
    assert "+Ties are fine." in guideline_version_diff(old=v1, new=v2)


def test_a_new_version_must_be_acknowledged_before_the_next_task(project, admin, add_member, api):
    from tests.factories import seed_rankings

    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    client = api(lea)
    assert client.post(f"/api/projects/{project.pk}/next/").status_code == 200
    guideline_publish(guideline=project.guideline, author=admin, body="New rules.", change_note="stricter")

    refused = client.post(f"/api/projects/{project.pk}/next/")
    assert refused.status_code == 409 and refused.json()["guideline_version"] == 2
    assert client.get(f"/api/projects/{project.pk}/guideline/").json()["acknowledged"] is False
    assert (
        client.post(f"/api/projects/{project.pk}/guideline/acknowledge/", {"version": 2}).status_code == 204
    )
    assert client.post(f"/api/projects/{project.pk}/next/").status_code == 200


def test_annotations_record_the_version_they_were_made_under(project, admin, add_member, api):
    from labeling.models import Ranking
    from tests.factories import seed_rankings

    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    guideline_publish(guideline=project.guideline, author=admin, body="v2 rules")
    client = api(lea)
    client.post(f"/api/projects/{project.pk}/guideline/acknowledge/", {"version": 2})
    body = client.post(f"/api/projects/{project.pk}/next/").json()
    client.post(
        f"/api/assignments/{body['id']}/submit/",
        {"tiers": [[c["id"] for c in body["candidates"]]]},
        format="json",
    )
    assert Ranking.objects.get().guideline_version.number == 2


def test_publishing_an_empty_guideline_is_refused(project, admin, api):
    response = api(admin).post(f"/api/projects/{project.pk}/guideline/versions/", {"body": "  "})
    assert response.status_code == 400
