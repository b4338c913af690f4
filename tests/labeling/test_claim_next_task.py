import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import DomainError
from labeling.models import Assignment, Task
from labeling.services.annotations import ranking_submit
from labeling.services.queue import (
    GuidelineNotAcknowledged,
    assignment_release,
    assignment_skip,
    claim_next_task,
)
from tests.factories import seed_rankings


def _claim_concurrently(project, labelers, rounds: int = 1) -> list[int | None]:
    """Each labeler thread claims and submits `rounds` times, all threads starting together."""
    barrier = threading.Barrier(len(labelers))
    claimed: list[int | None] = []
    errors: list[BaseException] = []

    def work(labeler):
        try:
            barrier.wait()
            for _ in range(rounds):
                assignment = claim_next_task(project=project, labeler=labeler)
                claimed.append(assignment.task_id if assignment else None)
                if assignment:
                    task = Task.objects.get(pk=assignment.task_id)
                    ranking_submit(assignment_id=assignment.pk, labeler=labeler, tiers=[task.candidate_ids])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(labeler,)) for labeler in labelers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return claimed


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("overlap", [1, 3])
def test_32_labelers_claiming_at_once_respect_overlap(make_project, add_member, overlap):
    project = make_project(overlap=overlap)
    seed_rankings(project, 40)
    labelers = [add_member(project, f"labeler{i}") for i in range(32)]

    _claim_concurrently(project, labelers, rounds=3)

    per_task = Counter(Assignment.objects.filter(task__project=project).values_list("task_id", flat=True))
    assert per_task and max(per_task.values()) <= overlap
    pairs = Assignment.objects.values_list("task_id", "labeler_id")
    assert len(pairs) == len(set(pairs))
    for task in Task.objects.filter(project=project):
        assert task.claimed_count == per_task.get(task.pk, 0)
        assert task.completed_count == per_task.get(task.pk, 0)
        assert (task.status == "done") == (task.completed_count >= overlap)


@pytest.mark.django_db(transaction=True)
def test_32_labelers_on_fewer_tasks_than_labelers_get_each_task_once(make_project, add_member):
    project = make_project(overlap=1)
    seed_rankings(project, 10)
    labelers = [add_member(project, f"labeler{i}") for i in range(32)]

    claimed = _claim_concurrently(project, labelers)

    got = [task_id for task_id in claimed if task_id is not None]
    assert sorted(got) == sorted(set(got)) and len(got) == 10


def test_a_labeler_with_a_live_lease_gets_that_task_back(project, add_member):
    seed_rankings(project, 3)
    labeler = add_member(project, "lea")
    first = claim_next_task(project=project, labeler=labeler)
    again = claim_next_task(project=project, labeler=labeler)
    assert again.pk == first.pk


def test_a_labeler_never_gets_a_task_twice(make_project, add_member):
    project = make_project(overlap=2)
    seed_rankings(project, 1)
    labeler = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=labeler)
    task = Task.objects.get(pk=assignment.task_id)
    ranking_submit(assignment_id=assignment.pk, labeler=labeler, tiers=[task.candidate_ids])
    assert claim_next_task(project=project, labeler=labeler) is None
    other = add_member(project, "otto")
    assert claim_next_task(project=project, labeler=other).task_id == task.pk


def test_expired_leases_return_to_the_pool(project, add_member):
    seed_rankings(project, 1)
    lea, otto = add_member(project, "lea"), add_member(project, "otto")
    assignment = claim_next_task(project=project, labeler=lea)
    assert claim_next_task(project=project, labeler=otto) is None

    Assignment.objects.filter(pk=assignment.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    taken = claim_next_task(project=project, labeler=otto)
    assert taken is not None and taken.task_id == assignment.task_id
    assert Assignment.objects.get(pk=assignment.pk).state == "expired"
    assert Task.objects.get(pk=assignment.task_id).claimed_count == 1


def test_skip_needs_a_reason_and_the_task_goes_to_someone_else(project, add_member):
    seed_rankings(project, 1)
    lea, otto = add_member(project, "lea"), add_member(project, "otto")
    assignment = claim_next_task(project=project, labeler=lea)
    with pytest.raises(DomainError, match="why"):
        assignment_skip(assignment_id=assignment.pk, labeler=lea, reason="  ")

    assignment_skip(assignment_id=assignment.pk, labeler=lea, reason="not in my language")

    assert claim_next_task(project=project, labeler=lea) is None
    assert claim_next_task(project=project, labeler=otto).task_id == assignment.task_id


def test_a_released_task_can_come_back_to_the_same_labeler(project, add_member):
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    assignment_release(assignment_id=assignment.pk, labeler=lea)
    assert Task.objects.get(pk=assignment.task_id).claimed_count == 0
    again = claim_next_task(project=project, labeler=lea)
    assert again.pk == assignment.pk and again.state == "active"


def test_next_task_requires_the_current_guideline_to_be_acknowledged(project, add_member):
    seed_rankings(project, 1)
    lea = add_member(project, "lea", acknowledge=False)
    with pytest.raises(GuidelineNotAcknowledged):
        claim_next_task(project=project, labeler=lea)


@pytest.mark.django_db
@pytest.mark.parametrize(("rate", "expected"), [(0.0, "....GGGG"), (0.25, "G...G.GG"), (0.5, "G.G.G.G.")])
def test_gold_tasks_are_mixed_in_at_the_project_rate(make_project, add_member, rate, expected):
    project = make_project()
    project.gold_rate = rate
    project.save(update_fields=["gold_rate"])
    tasks = seed_rankings(project, 8)
    Task.objects.filter(pk__in=tasks[-4:]).update(is_gold=True)  # the gold tasks come last in id order
    lea = add_member(project, "lea")

    served = ""
    for _ in range(8):
        assignment = claim_next_task(project=project, labeler=lea)
        task = Task.objects.get(pk=assignment.task_id)
        ranking_submit(assignment_id=assignment.pk, labeler=lea, tiers=[task.candidate_ids])
        served += "G" if task.is_gold else "."
    assert served == expected  # once one kind runs out, the other is served


@pytest.mark.django_db
@pytest.mark.parametrize("k", [4, 9])
def test_next_over_the_api_costs_the_same_few_queries_whatever_k(
    make_project, add_member, api, django_assert_max_num_queries, k
):
    project = make_project(k=k)
    seed_rankings(project, 3)
    client = api(add_member(project, "lea"))
    with django_assert_max_num_queries(12):
        response = client.post(f"/api/projects/{project.pk}/next/")
    assert response.status_code == 200
    body = response.json()
    assert len(body["candidates"]) == k and body["prompt"]["messages"][0]["content"] == "Question number 0?"
    with django_assert_max_num_queries(8):  # the live lease comes back, with its task and prompt
        assert client.post(f"/api/projects/{project.pk}/next/").json()["id"] == body["id"]
