"""CSRF on every write, role and membership on every page, and hostile text rendered as text."""

import pytest

from guidelines.services import guideline_publish
from labeling.models import Assignment, Ranking, Role
from labeling.services.drafts import demonstration_draft_submit
from labeling.services.imports import candidates_import, prompts_import
from labeling.services.projects import membership_remove
from labeling.services.queue import claim_next_task
from tests.factories import jsonl, seed_demonstrations, seed_rankings

SCRIPT = '<script>alert("x")</script>'
IMG = "<img src=x onerror=alert(1)>"


def _hostile_ranking(project):
    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind="ranking",
        stream=jsonl([{"external_id": "evil", "prompt": f"Explain {SCRIPT} please"}]),
    )
    candidates_import(
        project=project,
        fmt="jsonl",
        stream=jsonl(
            [
                {"prompt_external_id": "evil", "text": text, "model": "m", "sample_index": i}
                for i, text in enumerate(
                    [IMG, f"```html\n{SCRIPT}\n```", "[click](javascript:alert(1))", "<b onclick=x>plain</b>"]
                )
            ]
        ),
    )


def _assert_inert(html: str) -> None:
    assert SCRIPT not in html and "<img" not in html and "onerror=alert(1)>" not in html
    assert 'href="javascript:' not in html and "<b onclick" not in html


def test_prompts_and_candidates_with_html_render_as_text_on_the_ranking_page(project, add_member, client_for):
    _hostile_ranking(project)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)

    html = client_for(lea).get(f"/assignments/{assignment.pk}/").content.decode()

    _assert_inert(html)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_labeler_text_with_html_renders_as_text_for_the_reviewer(make_project, add_member, client_for):
    project = make_project(kinds=["demonstration"])
    seed_demonstrations(project, 1)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    demonstration_draft_submit(assignment_id=assignment.pk, labeler=lea, content=f"Sure. {SCRIPT} {IMG}")
    reviewer = add_member(project, "rhea", Role.REVIEWER)

    html = client_for(reviewer).get(f"/review/tasks/{assignment.task_id}/").content.decode()

    _assert_inert(html)
    assert "Sure. &lt;script&gt;" in html


def test_guideline_and_project_text_with_html_render_as_text(make_project, admin, add_member, client_for):
    project = make_project(name=f"p {SCRIPT}")
    lea = add_member(project, "lea")
    guideline_publish(
        guideline=project.guideline, author=admin, body=f"Rule {SCRIPT} {IMG}", change_note=SCRIPT
    )
    client = client_for(lea)
    for url in ("/", f"/projects/{project.pk}/guideline/", f"/projects/{project.pk}/next/"):
        _assert_inert(client.get(url).content.decode())


def test_writes_without_the_csrf_token_are_refused(project, add_member, client_for):
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    client = client_for(lea, csrf=True)
    urls = [
        f"/assignments/{assignment.pk}/rank/",
        f"/assignments/{assignment.pk}/skip/",
        f"/assignments/{assignment.pk}/release/",
        f"/projects/{project.pk}/next/",
        f"/projects/{project.pk}/guideline/acknowledge/",
        "/logout/",
    ]
    for url in urls:
        assert client.post(url, {"all_bad": "on", "reason": "x", "version": 1}).status_code == 403, url
    assert Assignment.objects.get(pk=assignment.pk).state == "active"

    token = client.get(f"/assignments/{assignment.pk}/").context["csrf_token"]
    done = client.post(f"/assignments/{assignment.pk}/rank/", {"all_bad": "on"}, HTTP_X_CSRFTOKEN=str(token))
    assert done.status_code == 302 and Ranking.objects.filter(assignment=assignment).exists()


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", ""),
        ("post", "rank/"),
        ("post", "write/"),
        ("post", "draft/"),
        ("post", "search/"),
        ("post", "preview/"),
        ("post", "skip/"),
        ("post", "release/"),
        ("post", "renew/"),
    ],
)
def test_a_labeler_cannot_open_or_change_another_labelers_assignment(
    project, add_member, client_for, method, path
):
    seed_rankings(project, 2)
    lea, otto = add_member(project, "lea"), add_member(project, "otto")
    assignment = claim_next_task(project=project, labeler=lea)

    response = getattr(client_for(otto), method)(
        f"/assignments/{assignment.pk}/{path}", {"all_bad": "on", "reason": "x", "content": "x", "query": "x"}
    )

    assert response.status_code == 404
    assert Assignment.objects.get(pk=assignment.pk).state == "active"
    assert not Ranking.objects.exists()


def test_people_outside_a_project_see_none_of_it(project, make_user, client_for):
    seed_rankings(project, 1)
    stranger = make_user("stranger")
    client = client_for(stranger)
    for url in (
        "next/",
        "guideline/",
        "review/",
        "settings/",
        "import/",
        "corpus/",
        "dashboard/",
        "guideline/edit/",
    ):
        assert client.get(f"/projects/{project.pk}/{url}").status_code == 404, url
    assert "helpful" not in client.get("/").content.decode()


def test_a_removed_member_loses_their_assignment_page(project, add_member, client_for):
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    membership_remove(project=project, user=lea)
    assert client_for(lea).get(f"/assignments/{assignment.pk}/").status_code == 404
