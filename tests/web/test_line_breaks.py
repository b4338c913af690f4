"""Conversation text keeps its line breaks on every page that shows it; guidelines stay markdown documents."""

from labeling.models import Candidate, Role
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from tests.factories import seed_rankings

HAIKU = "An old silent pond\nA frog jumps into the pond\nSplash! Silence again."


def _haiku_task(project):
    seed_rankings(project, 1)
    Candidate.objects.filter(text="Answer 0 to question 0.").update(text=HAIKU + "\n\n<script>x()</script>")


def test_a_haiku_keeps_its_three_lines_on_the_ranking_page(make_project, add_member, client_for):
    project = make_project()
    _haiku_task(project)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)

    html = client_for(lea).get(f"/assignments/{assignment.pk}/").content.decode()

    assert "An old silent pond<br>\nA frog jumps into the pond<br>\nSplash! Silence again." in html
    assert "<script>x()" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html


def test_a_haiku_keeps_its_three_lines_in_the_review_table(make_project, add_member, client_for):
    project = make_project()
    _haiku_task(project)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    ranking_submit(
        assignment_id=assignment.pk, labeler=lea, tiers=[[c] for c in assignment.task.candidate_ids]
    )
    rhea = add_member(project, "rhea", Role.REVIEWER)

    html = client_for(rhea).get(f"/review/tasks/{assignment.task_id}/").content.decode()

    assert "An old silent pond<br>\nA frog jumps into the pond<br>" in html


def test_a_guideline_joins_single_line_breaks_as_a_markdown_document(make_project, add_member, client_for):
    project = make_project(guideline="First line\nsame paragraph.\n\nSecond paragraph.")
    lea = add_member(project, "lea")

    html = client_for(lea).get(f"/projects/{project.pk}/guideline/").content.decode()

    assert "<p>First line\nsame paragraph.</p>" in html and "<p>Second paragraph.</p>" in html


def test_a_search_result_in_the_conversation_shows_its_text_on_its_lines_not_as_json(
    make_project, add_member, client_for
):
    import json

    from labeling.services.imports import prompts_import
    from tests.factories import jsonl

    project = make_project(kinds=["demonstration"])
    result = [{"ref": 1, "title": "Basho <i>", "url": "https://example.org/b", "text": HAIKU}]
    messages = [
        {"role": "user", "content": "Find a haiku."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "search", "arguments": {}}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps(result)},
        {"role": "user", "content": "Thanks. Another?"},
    ]
    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind="demonstration",
        stream=jsonl([{"external_id": "h", "messages": messages}]),
    )
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)

    html = client_for(lea).get(f"/assignments/{assignment.pk}/").content.decode()

    assert f'<div class="tool-text">{HAIKU}</div>' in html
    assert "<strong>Basho &lt;i&gt;</strong>" in html and "\\n" not in html.split("tool-text")[1][:200]
