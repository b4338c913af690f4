"""A labeler votes on a blind comparison: checked, counted once, kept in revisions, reviewed like the rest."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import DomainError
from labeling.models import Assignment, EvaluationDraft, EvaluationVote, Task
from labeling.services.annotations import WrongKind, ranking_submit
from labeling.services.evaluation import evaluation_draft_save, evaluation_vote_submit
from labeling.services.queue import GuidelineNotAcknowledged, LeaseExpired, claim_next_task
from labeling.services.review import review_create
from tests.factories import seed_evaluation, seed_rankings


@pytest.fixture
def arena(make_project, admin):
    """Two versions compared on three prompts, both answers imported: three evaluation tasks, overlap 2."""
    project = make_project(name="arena", kinds=["evaluation", "ranking"], overlap=2)
    seed_evaluation(project, admin, 3)
    return project


def test_a_vote_is_stored_once_however_often_the_submit_is_retried(arena, add_member):
    lea = add_member(arena, "lea")
    assignment = claim_next_task(project=arena, labeler=lea)
    assert assignment.task.kind == "evaluation"

    vote, created = evaluation_vote_submit(
        assignment_id=assignment.pk,
        labeler=lea,
        choice="right",
        reason="  B answers the question.  ",
        seconds=42,
    )
    again, created_again = evaluation_vote_submit(assignment_id=assignment.pk, labeler=lea, choice="left")

    assert (created, created_again) == (True, False) and again.pk == vote.pk
    assert (vote.choice, vote.reason, vote.seconds, vote.revision) == (
        "right",
        "B answers the question.",
        42,
        1,
    )
    assert vote.guideline_version == arena.guideline.versions.get()
    task = Task.objects.get(pk=assignment.task_id)
    assert (task.completed_count, task.status) == (1, "open")  # overlap 2: one more labeler


def test_overlap_two_labelers_vote_on_each_comparison_and_nobody_twice(arena, add_member):
    lea, otto, ines = add_member(arena, "lea"), add_member(arena, "otto"), add_member(arena, "ines")
    for labeler, choice in ((lea, "left"), (otto, "tie")):
        while (assignment := claim_next_task(project=arena, labeler=labeler)) is not None:
            evaluation_vote_submit(assignment_id=assignment.pk, labeler=labeler, choice=choice)
    assert claim_next_task(project=arena, labeler=ines) is None  # every comparison has its two votes
    assert set(Task.objects.filter(project=arena).values_list("status", flat=True)) == {"done"}
    assert EvaluationVote.objects.count() == 6
    assert Assignment.objects.filter(labeler=lea).count() == 3


@pytest.mark.parametrize(
    "choice,reason,field",
    [
        ("", "", "choice"),
        ("A", "", "choice"),
        (None, "", "choice"),
        ("left", "x" * 2001, "reason"),
        ("tie", 7, "reason"),
    ],
)
def test_a_vote_without_a_valid_choice_or_with_an_overlong_reason_is_refused(
    arena, add_member, choice, reason, field
):
    lea = add_member(arena, "lea")
    assignment = claim_next_task(project=arena, labeler=lea)

    with pytest.raises(DomainError) as refused:
        evaluation_vote_submit(assignment_id=assignment.pk, labeler=lea, choice=choice, reason=reason)

    assert refused.value.field == field and refused.value.status == 400
    assert not EvaluationVote.objects.exists()
    assert Assignment.objects.get(pk=assignment.pk).state == "active"


def test_votes_go_to_evaluation_tasks_and_rankings_to_ranking_tasks(arena, add_member):
    seed_rankings(arena, 1)
    lea = add_member(arena, "lea")
    kinds = {}
    while (assignment := claim_next_task(project=arena, labeler=lea)) is not None:
        kinds[assignment.task.kind] = assignment
        if assignment.task.kind == "evaluation":
            with pytest.raises(WrongKind):
                ranking_submit(
                    assignment_id=assignment.pk, labeler=lea, tiers=[assignment.task.candidate_ids]
                )
            evaluation_vote_submit(assignment_id=assignment.pk, labeler=lea, choice="tie")
        else:
            with pytest.raises(WrongKind):
                evaluation_vote_submit(assignment_id=assignment.pk, labeler=lea, choice="tie")
            ranking_submit(assignment_id=assignment.pk, labeler=lea, tiers=[assignment.task.candidate_ids])
    assert set(kinds) == {"evaluation", "ranking"}


def test_a_vote_after_the_lease_ran_out_is_refused(arena, add_member):
    lea = add_member(arena, "lea")
    assignment = claim_next_task(project=arena, labeler=lea)
    Assignment.objects.filter(pk=assignment.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(LeaseExpired):
        evaluation_vote_submit(assignment_id=assignment.pk, labeler=lea, choice="left")


def test_no_comparison_before_the_current_guideline_is_acknowledged(arena, add_member):
    lea = add_member(arena, "lea", acknowledge=False)
    with pytest.raises(GuidelineNotAcknowledged):
        claim_next_task(project=arena, labeler=lea)


def test_a_draft_keeps_the_vote_in_progress_and_the_submit_clears_it(arena, add_member):
    lea = add_member(arena, "lea")
    assignment = claim_next_task(project=arena, labeler=lea)
    evaluation_draft_save(assignment_id=assignment.pk, labeler=lea, choice="", reason="", seconds=3)
    draft = evaluation_draft_save(
        assignment_id=assignment.pk, labeler=lea, choice="left", reason="A is ", seconds=9
    )
    assert (draft.choice, draft.reason, draft.seconds) == ("left", "A is ", 9)
    with pytest.raises(DomainError) as refused:
        evaluation_draft_save(assignment_id=assignment.pk, labeler=lea, choice="both")
    assert refused.value.field == "choice"

    evaluation_vote_submit(assignment_id=assignment.pk, labeler=lea, choice="left", reason="A is right.")
    assert not EvaluationDraft.objects.exists()


def test_a_reviewer_accepts_rejects_or_edits_a_vote(arena, add_member):
    lea, rhea = add_member(arena, "lea"), add_member(arena, "rhea", "reviewer")
    first = claim_next_task(project=arena, labeler=lea)
    evaluation_vote_submit(assignment_id=first.pk, labeler=lea, choice="left", reason="shorter")
    second = claim_next_task(project=arena, labeler=lea)
    evaluation_vote_submit(assignment_id=second.pk, labeler=lea, choice="right")

    review_create(
        assignment_id=first.pk, reviewer=rhea, verdict="edit", edit={"choice": "tie"}, reason="both fine"
    )
    edited = EvaluationVote.objects.get(assignment=first, is_current=True)
    assert (edited.choice, edited.reason, edited.revision, edited.author) == ("tie", "shorter", 2, rhea)
    assert EvaluationVote.objects.get(assignment=first, revision=1).choice == "left"  # the labeler's stays

    with pytest.raises(DomainError) as refused:
        review_create(assignment_id=second.pk, reviewer=rhea, verdict="edit", edit={"choice": "middle"})
    assert refused.value.field == "choice"
    review_create(assignment_id=second.pk, reviewer=rhea, verdict="reject", reason="did not read both")
    task = Task.objects.get(pk=second.task_id)
    assert (task.completed_count, task.claimed_count) == (0, 0)  # back in the pool
