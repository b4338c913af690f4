from guidelines.models import GuidelineVersion
from guidelines.services import guideline_publish
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


def test_publishing_asks_for_a_confirmation_that_says_every_labeler_must_acknowledge_again(
    project, admin, add_member, client_for
):
    lea = add_member(project, "lea")
    add_member(project, "otto")
    client = client_for(admin)
    edit = f"/projects/{project.pk}/guideline/edit/"

    asked = client.post(
        edit,
        {
            "body": "Rank by helpfulness, then honesty.\r\nTies are fine.",
            "change_note": "ties",
            "action": "publish",
        },
    )

    page = asked.content.decode()
    assert asked.status_code == 200 and "Publish version 2?" in page
    assert "Every labeler must read version 2 and acknowledge it before their next task" in page
    assert "the project's 2 other members will be asked" in page
    assert "<ins>Ties are fine.</ins>" in page  # what changed, rendered
    assert GuidelineVersion.objects.filter(guideline=project.guideline).count() == 1  # nothing published yet

    done = client.post(edit, {"change_note": "ties", "draft": asked.context["draft"], "action": "confirm"})

    assert done.status_code == 302
    version = GuidelineVersion.objects.get(guideline=project.guideline, number=2)
    assert version.change_note == "ties" and version.author == admin
    assert version.body == "Rank by helpfulness, then honesty.\nTies are fine."  # CRLF saved as LF
    assert "I have read version 2" in client_for(lea).get("/").content.decode()


def test_publishing_without_a_change_note_is_refused_and_keeps_the_draft(project, admin, client_for):
    response = client_for(admin).post(
        f"/projects/{project.pk}/guideline/edit/",
        {"body": "Stricter rules.", "change_note": "  ", "action": "publish"},
    )

    assert response.status_code == 400
    assert "Write a change note: every labeler reads it" in response.content.decode()
    assert GuidelineVersion.objects.filter(guideline=project.guideline).count() == 1
    project.guideline.refresh_from_db()
    assert project.guideline.draft_body == "Stricter rules."


def test_a_confirmation_publishes_nothing_when_the_draft_changed_since(project, admin, client_for):
    client = client_for(admin)
    edit = f"/projects/{project.pk}/guideline/edit/"
    asked = client.post(edit, {"body": "Version A.", "change_note": "a", "action": "publish"})
    client.post(edit, {"body": "Version B, saved by someone else.", "action": "save"})

    response = client.post(edit, {"change_note": "a", "draft": asked.context["draft"], "action": "confirm"})

    assert response.status_code == 400
    assert "The draft changed since you confirmed" in response.content.decode()
    assert GuidelineVersion.objects.filter(guideline=project.guideline).count() == 1


def test_an_empty_guideline_cannot_be_published(project, admin, client_for):
    response = client_for(admin).post(
        f"/projects/{project.pk}/guideline/edit/", {"body": "  ", "change_note": "x", "action": "publish"}
    )
    assert response.status_code == 400 and "A guideline version needs a body." in response.content.decode()


def test_the_diff_between_two_versions_is_rendered_not_unified_diff_text(project, admin, client_for):
    guideline_publish(
        guideline=project.guideline, author=admin, body="Rank by honesty first.", change_note="honesty"
    )
    client = client_for(admin)

    html = client.get(f"/projects/{project.pk}/guideline/diff/1/2/").content.decode()

    assert (
        '<p>Rank by <del class="removed">helpfulness, then honesty.</del><ins>honesty first.</ins></p>'
        in html
    )
    assert "@@" not in html and "+Rank" not in html and "-Rank" not in html


def test_the_version_picker_of_the_diff_page_is_a_plain_form(project, admin, client_for):
    guideline_publish(guideline=project.guideline, author=admin, body="v2", change_note="v2")
    client = client_for(admin)

    page = client.get(f"/projects/{project.pk}/guideline/diff/1/2/")
    picked = client.get(f"/projects/{project.pk}/guideline/diff/", {"old": "2", "new": "1"})

    assert "onsubmit" not in page.content.decode()
    assert page["Content-Security-Policy"].count("script-src 'self';") == 1
    assert picked.status_code == 302 and picked["Location"] == f"/projects/{project.pk}/guideline/diff/2/1/"


def test_only_admins_author_guidelines(project, add_member, client_for):
    reviewer = add_member(project, "rhea", Role.REVIEWER)
    client = client_for(reviewer)
    assert client.get(f"/projects/{project.pk}/guideline/edit/").status_code == 403
    assert client.post(f"/projects/{project.pk}/guideline/preview/", {"body": "x"}).status_code == 403
    assert client.get(f"/projects/{project.pk}/guideline/").status_code == 200
