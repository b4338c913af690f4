"""A ranking in progress is kept on the server (placements, ratings, flags) until it is submitted."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import NotAllowed
from labeling.models import Assignment, RankingDraft
from labeling.services.annotations import InvalidRanking, ranking_submit
from labeling.services.drafts import ranking_draft_save
from labeling.services.queue import LeaseExpired, claim_next_task
from tests.factories import seed_rankings


@pytest.fixture
def leased(project, add_member):
    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    return lea, claim_next_task(project=project, labeler=lea)


def test_a_draft_keeps_the_board_and_ratings_and_each_save_replaces_the_last(leased):
    lea, assignment = leased
    a, b, c, _ = assignment.task.candidate_ids
    ranking_draft_save(assignment_id=assignment.pk, labeler=lea, placement={a: 1}, seconds=5)

    ranking_draft_save(
        assignment_id=assignment.pk,
        labeler=lea,
        placement={a: 1, b: 2, c: 2},
        ratings=[{"candidate": a, "overall": 6, "hallucination": True}],
        seconds=31,
    )

    draft = RankingDraft.objects.get(assignment=assignment)
    assert draft.placement == {str(a): 1, str(b): 2, str(c): 2}
    assert draft.ratings == [{"candidate": a, "overall": 6, "hallucination": True}]
    assert draft.seconds == 31 and not draft.all_bad


FIRST = object()  # stands for the task's first answer


@pytest.mark.parametrize(
    ("placement", "ratings", "field"),
    [
        ({999_999: 1}, None, "tiers"),  # not an answer of the task
        ({"a": 1}, None, "tiers"),
        ("first", None, "tiers"),
        (None, None, "tiers"),
        ({FIRST: 5}, None, "tiers"),  # a task of 4 answers has tiers 1 to 4
        ({FIRST: True}, None, "tiers"),
        ({}, [{"candidate": 999_999, "overall": 3}], "ratings"),
        ({}, [{"candidate": FIRST, "overall": 9}], "ratings"),
    ],
)
def test_a_draft_that_names_other_answers_or_impossible_tiers_is_refused(leased, placement, ratings, field):
    lea, assignment = leased
    first = assignment.task.candidate_ids[0]
    if isinstance(placement, dict):
        placement = {first if k is FIRST else k: v for k, v in placement.items()}
    ratings = [r | {"candidate": first} if r["candidate"] is FIRST else r for r in ratings or []]

    with pytest.raises(InvalidRanking) as refused:
        ranking_draft_save(assignment_id=assignment.pk, labeler=lea, placement=placement, ratings=ratings)

    assert refused.value.field == field and not RankingDraft.objects.exists()


def test_only_the_labeler_holding_a_live_lease_saves_a_draft(leased, add_member, project):
    lea, assignment = leased
    omar = add_member(project, "omar")
    with pytest.raises(NotAllowed):
        ranking_draft_save(assignment_id=assignment.pk, labeler=omar, placement={})
    Assignment.objects.filter(pk=assignment.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(LeaseExpired):
        ranking_draft_save(assignment_id=assignment.pk, labeler=lea, placement={})
    assert not RankingDraft.objects.exists()


def test_submitting_the_ranking_clears_its_draft(leased):
    lea, assignment = leased
    ids = assignment.task.candidate_ids
    ranking_draft_save(assignment_id=assignment.pk, labeler=lea, placement={ids[0]: 1})

    ranking_submit(assignment_id=assignment.pk, labeler=lea, tiers=[[i] for i in ids])

    assert not RankingDraft.objects.exists()
