import pytest

from labeling.models import Demonstration, DemonstrationDraft
from labeling.services.queue import claim_next_task
from tests.factories import seed_demonstrations


@pytest.fixture
def writing(make_project, add_member):
    project = make_project(kinds=["demonstration"])
    seed_demonstrations(project, 2)
    lea = add_member(project, "lea")
    return project, lea, claim_next_task(project=project, labeler=lea)


def test_the_page_shows_the_whole_conversation_and_the_guideline(
    writing, client_for, django_assert_max_num_queries
):
    _, lea, assignment = writing
    client = client_for(lea)
    with django_assert_max_num_queries(7):
        html = client.get(f"/assignments/{assignment.pk}/").content.decode()
    assert (
        "Tell me about topic 0." in html and "Which part of it?" in html and "The history, briefly." in html
    )
    assert "Rank by helpfulness, then honesty." in html  # the guideline side panel


def test_the_guideline_panel_shows_what_applies_to_demonstrations_and_says_what_it_left_out(
    make_project, add_member, client_for
):
    project = make_project(
        kinds=["demonstration"],
        guideline="# Ranking answers\n\nRank every answer.\n\n## Demonstrations\n\nWrite the ideal answer.\n",
    )
    seed_demonstrations(project, 1)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)

    html = client_for(lea).get(f"/assignments/{assignment.pk}/").content.decode()

    assert "Write the ideal answer." in html and "Rank every answer." not in html
    assert (
        "What applies to demonstrations. Sections whose heading names another kind of task are left out: "
        "Ranking answers." in html
    )
    assert f'href="/projects/{project.pk}/guideline/">The whole guideline</a>' in html


def test_a_draft_survives_a_reload(writing, client_for):
    _, lea, assignment = writing
    client = client_for(lea)

    saved = client.post(
        f"/assignments/{assignment.pk}/draft/",
        {"content": "It began in 1850 <b>and</b>", "seconds": "31", "pasted_chars": "4"},
    )

    assert saved.status_code == 200 and "saved_at" in saved.json()
    html = client.get(f"/assignments/{assignment.pk}/").content.decode()
    assert "It began in 1850 &lt;b&gt;and&lt;/b&gt;</textarea>" in html
    assert 'name="seconds" value="31.0"' in html and 'name="pasted_chars" value="4"' in html


def test_submitting_records_time_and_pasted_text_and_clears_the_draft(writing, client_for):
    _, lea, assignment = writing
    client = client_for(lea)
    client.post(f"/assignments/{assignment.pk}/draft/", {"content": "draft", "seconds": "10"})

    response = client.post(
        f"/assignments/{assignment.pk}/write/",
        {"content": "It began in 1850.", "seconds": "95", "pasted_chars": "17"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200 and "Demonstration saved." in response.content.decode()
    demonstration = Demonstration.objects.get(assignment=assignment)
    assert demonstration.messages[-1] == {"role": "assistant", "content": "It began in 1850."}
    assert len(demonstration.messages) == 4
    assert demonstration.seconds == 95 and demonstration.pasted_chars == 17
    assert not DemonstrationDraft.objects.filter(assignment=assignment).exists()


def test_an_empty_reply_is_refused(writing, client_for):
    _, lea, assignment = writing
    response = client_for(lea).post(f"/assignments/{assignment.pk}/write/", {"content": "  "})
    assert response.status_code == 400 and "Write the assistant&#x27;s reply." in response.content.decode()


def test_the_preview_renders_markdown_safely(writing, client_for):
    _, lea, assignment = writing
    response = client_for(lea).post(
        f"/assignments/{assignment.pk}/preview/", {"content": "**bold** <script>alert(1)</script>"}
    )
    assert response.content.decode().strip() == (
        "<p><strong>bold</strong> &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )
