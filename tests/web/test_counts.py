"""Every page that counts labels or reviews counts the same thing, and says what it counts."""

import re

from curation.snapshots import snapshot_freeze
from labeling.models import Role
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from labeling.services.review import review_create
from tests.factories import seed_rankings


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_labels_submissions_and_reviews_count_alike_on_every_page(
    make_project, add_member, admin, client_for
):
    """lea and otto rank the same three tasks; otto calls one "all bad"; rhea rejects one of lea's and
    accepts one of otto's. Six submitted, five labels (one rejected), four waiting for review on three
    tasks."""
    project = make_project(overlap=2)
    seed_rankings(project, 3)
    done = {}
    for name in ("lea", "otto"):
        labeler = add_member(project, name)
        done[name] = []
        while (assignment := claim_next_task(project=project, labeler=labeler)) is not None:
            all_bad = name == "otto" and not done[name]
            ranking_submit(
                assignment_id=assignment.pk,
                labeler=labeler,
                tiers=[assignment.task.candidate_ids]
                if all_bad
                else [[c] for c in assignment.task.candidate_ids],
                all_bad=all_bad,
            )
            done[name].append(assignment)
    rhea = add_member(project, "rhea", Role.REVIEWER)
    review_create(assignment_id=done["lea"][0].pk, reviewer=rhea, verdict="reject", reason="careless")
    review_create(assignment_id=done["otto"][1].pk, reviewer=rhea, verdict="accept")
    client = client_for(admin)

    dashboard = client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    labelers = client.get(f"/projects/{project.pk}/quality/labelers/").content.decode()
    agreement = client.get(f"/projects/{project.pk}/quality/agreement/").content.decode()
    queue = client.get(f"/projects/{project.pk}/review/").content.decode()
    home = client_for(rhea).get("/").content.decode()
    snapshot = snapshot_freeze(project=project, name="all", created_by=admin, verdict="unreviewed_allowed")

    assert "2 / 3 done · 5 of 6 labels" in _text(dashboard)  # the rejected task is open again
    for name, submitted, labels in (("lea", 3, 2), ("otto", 3, 3)):
        row = dashboard[dashboard.index(f'<tr data-labeler="{name}">') :]
        assert (
            f'<td class="num" data-submitted>{submitted}</td><td class="num" data-labels>{labels}</td>' in row
        )
        assert (
            f'<tr data-labeler="{name}"><td>{name}</td><td class="num" data-submitted>{submitted}</td>'
            in labelers
        )
    assert snapshot.row_count == 5  # a snapshot takes the labels
    assert "Rankings compared" in agreement and "orders nothing and is left out" in agreement
    assert "<dd data-to-review>4</dd>" in home and "on 3 tasks" in home
    assert "3 tasks with 4 submissions waiting for review." in queue
    assert queue.count('<td class="preview">') == 3
