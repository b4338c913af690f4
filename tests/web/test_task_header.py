"""The line above a task names its kind, its number and the time spent on it, with no loose separator."""

import re

from labeling.services.drafts import demonstration_draft_save
from labeling.services.queue import claim_next_task
from tests.factories import seed_demonstrations, seed_rankings


def _header(html: str) -> str:
    match = re.search(r'<p class="eyebrow">(.*?)</p>', html, re.S)
    assert match, "no task header"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_the_header_shows_the_time_on_task_from_the_start(make_project, add_member, client_for):
    project = make_project(kinds=["ranking", "demonstration"])
    seed_rankings(project, 1)
    seed_demonstrations(project, 1)
    lea = add_member(project, "lea")
    client = client_for(lea)
    ranking = claim_next_task(project=project, labeler=lea)

    ranking_header = _header(client.get(f"/assignments/{ranking.pk}/").content.decode())
    client.post(f"/assignments/{ranking.pk}/skip/", {"reason": "not mine"})
    writing = claim_next_task(project=project, labeler=lea)
    demonstration_draft_save(assignment_id=writing.pk, labeler=lea, content="Draft", seconds=75)
    writing_header = _header(client.get(f"/assignments/{writing.pk}/").content.decode())

    assert ranking_header == f"Ranking · task {ranking.task_id} · 0:00"
    assert writing_header == f"Demonstration · task {writing.task_id} · 1:15"
