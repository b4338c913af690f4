"""Right after submitting, a labeler can change their ranking until a reviewer looks at it."""

from labeling.models import Assignment, Ranking, Role, Task
from labeling.services.queue import claim_next_task
from labeling.services.review import review_create
from tests.factories import seed_rankings


def _submit(client, assignment):
    a, b, c, d = assignment.task.candidate_ids
    form = {f"tier-{a}": "1", f"tier-{b}": "2", f"tier-{c}": "3", f"tier-{d}": "4", f"overall-{a}": "5"}
    return client.post(f"/assignments/{assignment.pk}/rank/", form, HTTP_HX_REQUEST="true")


def test_a_submitted_ranking_is_changed_from_the_link_in_the_notice(project, add_member, client_for):
    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    first = claim_next_task(project=project, labeler=lea)
    a, b, c, d = first.task.candidate_ids
    client = client_for(lea)

    notice = _submit(client, first).content.decode()
    page = client.get(f"/assignments/{first.pk}/").content.decode()
    changed = client.post(
        f"/assignments/{first.pk}/rank/change/",
        {f"tier-{a}": "2", f"tier-{b}": "1", f"tier-{c}": "2", f"tier-{d}": "3", f"overall-{a}": "3"},
        HTTP_HX_REQUEST="true",
    )

    assert f'href="/assignments/{first.pk}/" data-change-last>Change it</a>' in notice
    assert "You submitted this ranking." in page and "Save changes" in page and "Skip this task" not in page
    assert f'name="overall-{a}" value="5" checked' in page  # as submitted
    assert changed.status_code == 200 and "Your changes to the ranking are saved." in changed.content.decode()
    live = Assignment.objects.get(labeler=lea, state="active")
    assert f'data-assignment="{live.pk}"' in changed.content.decode()  # back to the task in hand
    current = Ranking.objects.get(assignment=first, is_current=True)
    assert current.revision == 2 and current.tiers == [[b], [a, c], [d]]
    task = Task.objects.get(pk=first.task_id)
    assert (task.completed_count, task.status) == (1, "done")


def test_a_reviewed_ranking_shows_as_submitted_and_a_change_is_refused(project, add_member, client_for):
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    client = client_for(lea)
    _submit(client, assignment)
    review_create(
        assignment_id=assignment.pk, reviewer=add_member(project, "rhea", Role.REVIEWER), verdict="accept"
    )
    a, b, c, d = assignment.task.candidate_ids

    page = client.get(f"/assignments/{assignment.pk}/").content.decode()
    refused = client.post(
        f"/assignments/{assignment.pk}/rank/change/",
        {f"tier-{a}": "4", f"tier-{b}": "3", f"tier-{c}": "2", f"tier-{d}": "1"},
    )

    assert "You submitted this task" in page and "Save changes" not in page
    assert refused.status_code == 409
    assert "A reviewer has already looked at this ranking" in refused.content.decode()
    assert Ranking.objects.filter(assignment=assignment).count() == 1
