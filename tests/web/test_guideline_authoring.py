from guidelines.models import GuidelineVersion
from labeling.models import Role


def test_the_preview_renders_the_markdown_safely(project, admin, client_for):
    response = client_for(admin).post(
        f"/projects/{project.pk}/guideline/preview/", {"body": "# Rules\n<img src=x onerror=alert(1)>"}
    )
    assert response.content.decode().strip() == "<h1>Rules</h1>\n<p>&lt;img src=x onerror=alert(1)&gt;</p>"


def test_saving_a_draft_publishes_nothing(project, admin, client_for):
    client_for(admin).post(
        f"/projects/{project.pk}/guideline/edit/", {"body": "Draft text", "action": "save"}
    )
    project.guideline.refresh_from_db()
    assert project.guideline.draft_body == "Draft text"
    assert GuidelineVersion.objects.filter(guideline=project.guideline).count() == 1


def test_publishing_makes_a_new_version_that_labelers_must_acknowledge(
    project, admin, add_member, client_for
):
    lea = add_member(project, "lea")
    client = client_for(admin)

    response = client.post(
        f"/projects/{project.pk}/guideline/edit/",
        {
            "body": "Rank by helpfulness, then honesty.\nTies are fine.",
            "change_note": "ties",
            "action": "publish",
        },
    )

    assert response.status_code == 302
    version = GuidelineVersion.objects.get(guideline=project.guideline, number=2)
    assert version.change_note == "ties" and version.author == admin
    assert "I have read version 2" in client_for(lea).get("/").content.decode()


def test_an_empty_guideline_cannot_be_published(project, admin, client_for):
    response = client_for(admin).post(
        f"/projects/{project.pk}/guideline/edit/", {"body": "  ", "action": "publish"}
    )
    assert response.status_code == 400 and "a guideline version needs a body" in response.content.decode()


def test_the_diff_between_two_versions(project, admin, client_for):
    client = client_for(admin)
    client.post(
        f"/projects/{project.pk}/guideline/edit/",
        {"body": "Rank by honesty first.", "change_note": "honesty", "action": "publish"},
    )

    html = client.get(f"/projects/{project.pk}/guideline/diff/1/2/").content.decode()

    assert "<del>-Rank by helpfulness, then honesty.</del>" in html
    assert "<ins>+Rank by honesty first.</ins>" in html


def test_only_admins_author_guidelines(project, add_member, client_for):
    reviewer = add_member(project, "rhea", Role.REVIEWER)
    client = client_for(reviewer)
    assert client.get(f"/projects/{project.pk}/guideline/edit/").status_code == 403
    assert client.post(f"/projects/{project.pk}/guideline/preview/", {"body": "x"}).status_code == 403
    assert client.get(f"/projects/{project.pk}/guideline/").status_code == 200
