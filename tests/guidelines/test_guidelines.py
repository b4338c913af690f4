import pytest
from django.db import ProgrammingError, transaction

from core.errors import DomainError
from guidelines.models import GuidelineVersion
from guidelines.selectors import guideline_version_diff
from guidelines.services import guideline_draft_save, guideline_publish


def test_publishing_numbers_versions_and_a_published_version_never_changes(project, admin):
    v2 = guideline_publish(
        guideline=project.guideline, author=admin, body="Rank by honesty first.", change_note="c"
    )
    assert v2.number == 2
    with pytest.raises(ProgrammingError, match="never changes"), transaction.atomic():
        GuidelineVersion.objects.filter(pk=v2.pk).update(body="rewritten")
    assert GuidelineVersion.objects.get(pk=v2.pk).body == "Rank by honesty first."


def test_the_diff_shows_changed_paragraphs_rendered_with_added_and_removed_words_marked(project, admin):
    text = "# Ranking\n\nRank by helpfulness.\n\n## Ties\n\n- Ties are {}.\n- Keep notes short.\n\nThe end."
    v1 = guideline_publish(
        guideline=project.guideline, author=admin, body=text.format("rare"), change_note="layout"
    )
    v2 = guideline_publish(
        guideline=project.guideline, author=admin, body=text.format("**fine**"), change_note="ties"
    )

    passages = guideline_version_diff(old=v1, new=v2)

    html = "".join(p.html for p in passages)
    assert '<li>Ties are <del class="removed">rare.</del><ins><strong>fine</strong>.</ins></li>' in html
    assert "<h2>Ties</h2>" in html  # the heading above the change says where it is
    assert "@@" not in html and "+-" not in html and "Rank by helpfulness" not in html
    assert [p.skipped for p in passages if p.skipped] == [2, 1]  # unchanged paragraphs are counted


def test_the_diff_keeps_markup_in_the_text_inert(project, admin):
    v1 = project.guideline.versions.get(number=1)
    v2 = guideline_publish(
        guideline=project.guideline,
        author=admin,
        body=v1.body + ' <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror="y">',
        change_note="hostile",
    )

    html = "".join(p.html for p in guideline_version_diff(old=v1, new=v2))

    assert "<ins>&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html and 'href="javascript:' not in html and "<img" not in html


def test_a_version_needs_a_change_note_for_the_labelers(project, admin):
    for note in ("", "   "):
        with pytest.raises(DomainError) as refused:
            guideline_publish(guideline=project.guideline, author=admin, body="New rules.", change_note=note)
        assert refused.value.field == "change_note"
    assert project.guideline.versions.count() == 1


def test_windows_line_endings_are_saved_as_line_feeds(project, admin):
    guideline_draft_save(guideline=project.guideline, body="# Rules\r\n\r\nBe kind.\rBe brief.\r\n")
    project.guideline.refresh_from_db()
    assert project.guideline.draft_body == "# Rules\n\nBe kind.\nBe brief.\n"

    v2 = guideline_publish(
        guideline=project.guideline, author=admin, body="# Rules\r\n\r\nBe kind.\r\n", change_note="crlf"
    )
    assert v2.body == "# Rules\n\nBe kind.\n"
    v3 = guideline_publish(
        guideline=project.guideline, author=admin, body="# Rules\n\nBe kind.\n", change_note="lf"
    )
    assert guideline_version_diff(old=v2, new=v3) == []  # only the line endings differed: no change


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
    guideline_publish(guideline=project.guideline, author=admin, body="v2 rules", change_note="v2")
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
