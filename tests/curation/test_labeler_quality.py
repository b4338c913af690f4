import json

import pytest

from core.errors import DomainError
from curation.quality.labelers import (
    gold_answer_set,
    gold_rate_set,
    labeler_quality,
    labeler_scores,
    labelers_below,
)
from labeling.models import Task
from labeling.services.annotations import demonstration_submit, ranking_submit
from labeling.services.queue import claim_next_task
from tests.factories import import_prompts, seed_rankings


def _work(project, labeler, *, reverse: bool, ranking_seconds: list[float], reply: str, pasted: int) -> None:
    """Rank every ranking task (ascending ids, or reversed) and write every demonstration task."""
    seconds = iter(ranking_seconds)
    while (assignment := claim_next_task(project=project, labeler=labeler)) is not None:
        task = Task.objects.get(pk=assignment.task_id)
        if task.kind == "ranking":
            ids = sorted(task.candidate_ids, reverse=reverse)
            ranking_submit(
                assignment_id=assignment.pk, labeler=labeler, tiers=[[c] for c in ids], seconds=next(seconds)
            )
        else:
            demonstration_submit(
                assignment_id=assignment.pk,
                labeler=labeler,
                messages=[{"role": "assistant", "content": reply}],
                seconds=100 + 10 * task.pk % 3,
                pasted_chars=pasted,
            )


@pytest.fixture
def worked_project(make_project, add_member, admin):
    project = make_project(overlap=3, k=4)
    task_ids = seed_rankings(project, 3)
    import_prompts(project, ["Write a haiku.", "Explain rain."], "demonstration")
    ann, bob, cy = (add_member(project, name) for name in ("ann", "bob", "cy"))
    add_member(project, "dee")  # a labeler who has done nothing yet
    gold_rate_set(project=project, rate=0.5)  # ceil(0.5 x 3 ranking tasks) = 2 gold tasks
    for task in Task.objects.filter(pk__in=task_ids):
        gold_answer_set(task=task, tiers=[[c] for c in sorted(task.candidate_ids)], set_by=admin)
    reply = "A reply of exactly forty characters long."[:40]
    _work(project, ann, reverse=False, ranking_seconds=[40, 45, 50], reply=reply, pasted=0)
    _work(project, bob, reverse=False, ranking_seconds=[45, 50, 55], reply=reply, pasted=40)
    _work(project, cy, reverse=True, ranking_seconds=[0.5, 0.5, 0.5], reply=reply, pasted=0)
    return project, task_ids


def test_the_gold_rate_picks_which_tasks_with_a_gold_answer_are_gold(worked_project):
    project, task_ids = worked_project
    gold = list(
        Task.objects.filter(project=project, is_gold=True).order_by("id").values_list("id", flat=True)
    )
    assert gold == task_ids[:2]
    # every labeler of the project is asked a gold task; other tasks keep the project's overlap
    assert set(Task.objects.filter(pk__in=gold).values_list("required_count", flat=True)) == {4}
    assert Task.objects.get(pk=task_ids[2]).required_count == 3
    gold_rate_set(project=project, rate=0.0)
    assert not Task.objects.filter(project=project, is_gold=True).exists()


def test_gold_answers_must_be_valid_rankings(worked_project, admin):
    project, task_ids = worked_project
    task = Task.objects.get(pk=task_ids[0])
    with pytest.raises(DomainError):
        gold_answer_set(task=task, tiers=[[task.candidate_ids[0]]], set_by=admin)
    with pytest.raises(DomainError):
        gold_rate_set(project=project, rate=1.5)


def test_signals_and_scores_per_labeler(worked_project):
    project, _ = worked_project
    quality = {q.username: q for q in labeler_quality(project=project)}
    assert set(quality) == {"ann", "bob", "cy"}
    ann, bob, cy = quality["ann"], quality["bob"], quality["cy"]

    assert (ann.gold_tasks, ann.gold_accuracy) == (2, 1.0)
    assert (cy.gold_tasks, cy.gold_accuracy) == (2, 0.0)
    assert cy.consensus_agreement == 0.0  # ann and bob agree with each other, and cy reverses them
    assert ann.consensus_agreement is None  # bob + cy's consensus ties every pair
    assert (cy.too_fast, cy.timed, cy.outlier_share) == (3, 5, pytest.approx(3 / 5))
    assert ann.outlier_share == 0.0 and ann.median_seconds == 50
    assert (ann.pasted_share, bob.pasted_share) == (0.0, 1.0)

    scores = labeler_scores(project=project)
    assert scores[ann.labeler_id] == pytest.approx(1.0)
    assert scores[bob.labeler_id] == pytest.approx((0.4 + 0.15) / 0.7)
    assert scores[cy.labeler_id] == pytest.approx((0.15 * 0.4 + 0.15) / 1.0)
    assert labelers_below(project=project, min_score=0.5) == {cy.labeler_id}


def test_a_snapshot_can_leave_out_low_scoring_labelers(worked_project):
    from curation.snapshots import snapshot_freeze

    project, _ = worked_project
    everyone = snapshot_freeze(project=project, name="all", verdict="unreviewed_allowed", kinds=["ranking"])
    trusted = snapshot_freeze(
        project=project,
        name="trusted",
        verdict="unreviewed_allowed",
        kinds=["ranking"],
        min_labeler_score=0.5,
    )

    assert everyone.manifest["labelers_left_out"] == []
    assert trusted.manifest["labelers_left_out"] == ["cy"]
    assert trusted.manifest["filters"]["min_labeler_score"] == 0.5

    def labelers(snapshot):
        return {json.loads(row.data)["labeler"] for row in snapshot.rows.all()}

    assert labelers(everyone) == {"ann", "bob", "cy"}
    assert labelers(trusted) == {"ann", "bob"}
    assert everyone.row_count - trusted.row_count == 3  # cy ranked three tasks
    with pytest.raises(DomainError):
        snapshot_freeze(project=project, name="bad", kinds=["ranking"], min_labeler_score=1.5)
