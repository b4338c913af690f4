from guidelines.models import Acknowledgement
from guidelines.services import guideline_publish
from tests.factories import seed_rankings


def test_acknowledging_lets_the_labeler_take_tasks_again(project, admin, add_member, client_for):
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    version = guideline_publish(
        guideline=project.guideline, author=admin, body="New rules.", change_note="v2"
    )
    client = client_for(lea)

    refused = client.post(f"/projects/{project.pk}/next/")
    assert refused.status_code == 302 and refused["Location"] == "/"
    shown = client.get("/").content.decode()
    assert "Acknowledge guideline version 2 before taking a task: read what changed below." in shown

    response = client.post(f"/projects/{project.pk}/guideline/acknowledge/", {"version": 2})

    assert response.status_code == 302
    assert Acknowledgement.objects.filter(user=lea, version=version).exists()
    taken = client.post(f"/projects/{project.pk}/next/")
    assert taken.status_code == 302 and taken["Location"].startswith("/assignments/")


def test_acknowledging_a_version_that_does_not_exist_is_a_404(project, add_member, client_for):
    lea = add_member(project, "lea")
    assert (
        client_for(lea).post(f"/projects/{project.pk}/guideline/acknowledge/", {"version": 9}).status_code
        == 404
    )


def test_a_guideline_published_during_a_session_sends_the_labeler_home_on_submit(
    project, admin, add_member, client_for
):
    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    client = client_for(lea)
    assignment_url = client.post(f"/projects/{project.pk}/next/")["Location"]
    assignment_id = int(assignment_url.strip("/").split("/")[-1])
    guideline_publish(guideline=project.guideline, author=admin, body="Changed.", change_note="v2")

    response = client.post(f"/assignments/{assignment_id}/rank/", {"all_bad": "on"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 204 and response["HX-Redirect"] == "/"
