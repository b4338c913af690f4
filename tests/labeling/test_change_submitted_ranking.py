"""A labeler changes their own submitted ranking until a reviewer has looked at it; the counts never move."""

import pytest

from core.errors import Conflict, NotAllowed
from labeling.models import CandidateRating, Ranking, Task
from labeling.services.annotations import ranking_revise, ranking_submit
from labeling.services.queue import claim_next_task
from labeling.services.review import review_create
from tests.factories import seed_rankings


@pytest.fixture
def submitted(make_project, add_member):
    project = make_project(overlap=2)
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    ids = assignment.task.candidate_ids
    ranking_submit(assignment_id=assignment.pk, labeler=lea, tiers=[[i] for i in ids])
    return project, lea, assignment, ids


def counts(task_id):
    task = Task.objects.get(pk=task_id)
    return task.completed_count, task.claimed_count, task.status


def test_a_change_is_a_new_revision_by_the_labeler_and_counts_nothing_again(submitted):
    _, lea, assignment, ids = submitted
    before = counts(assignment.task_id)

    changed = ranking_revise(
        assignment_id=assignment.pk,
        labeler=lea,
        tiers=[[ids[3]], [ids[0], ids[1]], [ids[2]]],
        ratings=[{"candidate": ids[3], "overall": 7, "harmful_advice": True}],
        seconds=12,
    )

    assert counts(assignment.task_id) == before == (1, 1, "open")
    assert changed.revision == 2 and changed.is_current and changed.author == lea
    assert changed.tiers == [[ids[3]], [ids[0], ids[1]], [ids[2]]]
    first = Ranking.objects.get(assignment=assignment, revision=1)
    assert not first.is_current and first.tiers == [[i] for i in ids]  # the first stays, unchanged
    assert CandidateRating.objects.get(ranking=changed).harmful_advice


def test_once_a_reviewer_has_looked_the_ranking_can_no_longer_be_changed(submitted, add_member):
    project, lea, assignment, ids = submitted
    review_create(
        assignment_id=assignment.pk, reviewer=add_member(project, "rhea", "reviewer"), verdict="accept"
    )

    with pytest.raises(Conflict) as refused:
        ranking_revise(assignment_id=assignment.pk, labeler=lea, tiers=[list(ids)])

    assert "reviewer has already looked" in refused.value.detail
    assert Ranking.objects.filter(assignment=assignment).count() == 1


def test_only_ones_own_submitted_ranking_can_be_changed(submitted, add_member):
    project, lea, assignment, ids = submitted
    with pytest.raises(NotAllowed):
        ranking_revise(assignment_id=assignment.pk, labeler=add_member(project, "omar"), tiers=[list(ids)])
    seed_rankings(project, 2)
    live = claim_next_task(project=project, labeler=lea)
    with pytest.raises(Conflict) as refused:
        ranking_revise(assignment_id=live.pk, labeler=lea, tiers=[list(live.task.candidate_ids)])
    assert refused.value.field == "assignment" and not Ranking.objects.filter(assignment=live).exists()
