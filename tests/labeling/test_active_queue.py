"""Active task selection in the queue: the most uncertain ranking task first, and overlap, gold tasks and
leases as in arrival order."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import DomainError, NotAllowed
from labeling.active import ranking_uncertainty
from labeling.models import Assignment, Task, TaskRewardScores
from labeling.services.active import active_selection_set, task_reward_scores_store
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from registry.models import ModelVersion
from tests.factories import seed_rankings
from tests.labeling.test_claim_next_task import _claim_concurrently


def _reward_model(project, name="rm-1"):
    base, _ = ModelVersion.objects.get_or_create(name="base", kind="base", path="/models/base")
    return ModelVersion.objects.create(
        parent=base, name=name, kind=ModelVersion.Kind.RM, path=f"/models/{name}", project=project
    )


def _uncertain(project, gaps: dict[int, float]) -> None:
    """Order the queue by uncertainty, with each task's answers `gap` apart (smaller = more uncertain)."""
    model = _reward_model(project)
    active_selection_set(project=project, user=None, queue_order="uncertainty", reward_model=model)
    project.refresh_from_db()
    scores = {tid: [gap * i for i in range(project.k)] for tid, gap in gaps.items()}
    assert task_reward_scores_store(project=project, reward_model=model, scores=scores) == len(gaps)


def _served(project, labeler, n: int) -> list[int]:
    out = []
    for _ in range(n):
        assignment = claim_next_task(project=project, labeler=labeler)
        if assignment is None:
            break
        task = Task.objects.get(pk=assignment.task_id)
        ranking_submit(assignment_id=assignment.pk, labeler=labeler, tiers=[task.candidate_ids])
        out.append(task.pk)
    return out


def test_uncertainty_is_a_coin_flip_for_equal_scores_and_falls_as_they_part():
    assert ranking_uncertainty([0.3, 0.3, 0.3]) == pytest.approx(1.0)
    assert ranking_uncertainty([0.0, 0.1]) > ranking_uncertainty([0.0, 1.0]) > ranking_uncertainty([0.0, 9.0])
    # two answers apart by 1: σ(-1) doubled
    assert ranking_uncertainty([0.0, 1.0]) == pytest.approx(2 / (1 + 2.718281828459045))
    assert ranking_uncertainty([1.0]) == 0.0


def test_the_most_uncertain_task_comes_first_then_the_unscored_in_arrival_order(project, add_member):
    tasks = seed_rankings(project, 6)
    # tasks[4] is the most uncertain, then tasks[1], then tasks[2]; tasks 0, 3 and 5 are not scored yet
    _uncertain(project, {tasks[1]: 0.5, tasks[2]: 3.0, tasks[4]: 0.05})
    stored = Task.objects.get(pk=tasks[4])
    assert stored.uncertainty == pytest.approx(ranking_uncertainty([0.05 * i for i in range(4)]))
    assert TaskRewardScores.objects.get(task_id=tasks[4]).scores == pytest.approx([0, 0.05, 0.1, 0.15])

    lea = add_member(project, "lea")
    assert _served(project, lea, 6) == [tasks[4], tasks[1], tasks[2], tasks[0], tasks[3], tasks[5]]


def test_arrival_order_ignores_the_scores(project, add_member):
    tasks = seed_rankings(project, 4)
    _uncertain(project, {tasks[3]: 0.01, tasks[2]: 0.02})
    active_selection_set(project=project, user=None, queue_order="arrival", reward_model=None)
    project.refresh_from_db()
    assert _served(project, add_member(project, "lea"), 4) == tasks


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("overlap", [1, 3])
def test_many_labelers_claiming_at_once_in_uncertainty_order_respect_overlap(
    make_project, add_member, overlap
):
    project = make_project(overlap=overlap)
    tasks = seed_rankings(project, 30)
    _uncertain(project, {tid: (n % 7) / 3 for n, tid in enumerate(tasks)})
    labelers = [add_member(project, f"labeler{i}") for i in range(24)]

    _claim_concurrently(project, labelers, rounds=3)

    per_task = Counter(Assignment.objects.filter(task__project=project).values_list("task_id", flat=True))
    assert per_task and max(per_task.values()) <= overlap
    pairs = Assignment.objects.values_list("task_id", "labeler_id")
    assert len(pairs) == len(set(pairs))
    for task in Task.objects.filter(project=project):
        assert task.claimed_count == task.completed_count == per_task.get(task.pk, 0)
    # 72 claims over 30 tasks: the most uncertain tasks (gap 0) are all full
    most_uncertain = [tid for n, tid in enumerate(tasks) if n % 7 == 0]
    assert all(per_task[tid] == overlap for tid in most_uncertain)


def test_gold_tasks_keep_their_rate_in_uncertainty_order(project, add_member):
    project.gold_rate = 0.5
    project.save(update_fields=["gold_rate"])
    tasks = seed_rankings(project, 8)
    gold = tasks[:4]
    Task.objects.filter(pk__in=gold).update(is_gold=True)
    # the ordinary tasks are far more uncertain than the gold ones; gold still comes every other task
    _uncertain(project, {tid: (0.01 if tid not in gold else 5.0) * (1 + n) for n, tid in enumerate(tasks)})
    served = _served(project, add_member(project, "lea"), 8)
    assert "".join("G" if tid in gold else "." for tid in served) == "G.G.G.G."
    ordinary = [tid for tid in served if tid not in gold]
    assert ordinary == [tasks[4], tasks[5], tasks[6], tasks[7]]  # most uncertain (smallest gap) first


def test_a_live_lease_comes_back_and_an_expired_one_returns_to_the_pool_in_order(project, add_member):
    tasks = seed_rankings(project, 3)
    _uncertain(project, {tasks[0]: 2.0, tasks[1]: 1.0, tasks[2]: 0.1})
    lea, otto = add_member(project, "lea"), add_member(project, "otto")
    first = claim_next_task(project=project, labeler=lea)
    assert first.task_id == tasks[2]
    # a task turning more uncertain meanwhile does not take the labeler's live lease away
    task_reward_scores_store(
        project=project, reward_model=project.queue_reward_model, scores={tasks[0]: [0, 0, 0, 0]}
    )
    assert claim_next_task(project=project, labeler=lea).pk == first.pk
    assert claim_next_task(project=project, labeler=otto).task_id == tasks[0]

    # a day back: the test runs in one transaction, whose now() is its start, not the wall clock
    Assignment.objects.filter(pk=first.pk).update(lease_expires_at=timezone.now() - timedelta(days=1))
    third = add_member(project, "tess")
    assert (
        claim_next_task(project=project, labeler=third).task_id == tasks[2]
    )  # back, and still the most unsure


def test_the_settings_check_who_and_what(project, add_member):
    labeler = add_member(project, "lea")
    model = _reward_model(project)
    with pytest.raises(NotAllowed):
        active_selection_set(project=project, user=labeler, queue_order="uncertainty", reward_model=model)
    policy = ModelVersion.objects.create(
        name="sft", kind=ModelVersion.Kind.SFT, path="/models/sft", project=project, parent=model.parent
    )
    with pytest.raises(DomainError, match="not a reward model"):
        active_selection_set(project=project, user=None, queue_order="uncertainty", reward_model=policy)
    with pytest.raises(DomainError) as refused:
        active_selection_set(project=project, user=None, queue_order="random", reward_model=model)
    assert refused.value.field == "queue_order"
    project.refresh_from_db()
    assert project.queue_order == "arrival" and project.queue_reward_model is None


def test_scores_that_do_not_fit_a_task_are_left_out(project):
    tasks = seed_rankings(project, 2)
    model = _reward_model(project)
    Task.objects.filter(pk=tasks[1]).update(status="done")
    stored = task_reward_scores_store(
        project=project, reward_model=model, scores={tasks[0]: [0.1, 0.2], tasks[1]: [0, 1, 2, 3]}
    )
    assert stored == 0 and not TaskRewardScores.objects.exists()
    assert Task.objects.filter(uncertainty__isnull=False).count() == 0


def test_the_uncertainty_pick_is_an_index_range_not_a_sort(project, add_member):
    from django.db import connection

    from labeling.models import QueueOrder
    from labeling.services.queue import _PICK_ORDERS

    tasks = seed_rankings(project, 3)
    _uncertain(project, {tasks[0]: 0.2})
    lea = add_member(project, "lea")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the planner's choice at a production table size
        cursor.execute(
            "EXPLAIN " + _PICK_ORDERS[QueueOrder.UNCERTAINTY],
            {"project": project.pk, "labeler": lea.pk, "gold": False},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "task_open_by_uncertainty" in plan and "Sort" not in plan, plan
