"""Handing out work: leases on tasks, claimed in one short transaction, skipped, released, renewed."""

from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import Conflict, DomainError, NotAllowed, NotFound
from core.types import User
from guidelines.selectors import guideline_version_pending_for
from labeling.access import assignment_role
from labeling.models import (
    Assignment,
    Project,
    QueueOrder,
    Task,
)


class GuidelineNotAcknowledged(DomainError):
    status = 409
    code = "guideline_not_acknowledged"


class LeaseExpired(Conflict):
    code = "lease_expired"


_LABELER_LOCK = 7301  # advisory-lock namespace: one claim at a time per labeler


_RECLAIM_EXPIRED = """
WITH expired AS (
    UPDATE labeling_assignment SET state = 'expired'
    WHERE id IN (
        SELECT id FROM labeling_assignment
        WHERE state = 'active' AND lease_expires_at <= now()
        ORDER BY lease_expires_at LIMIT 200
        FOR UPDATE SKIP LOCKED)
    RETURNING task_id
)
UPDATE labeling_task t SET claimed_count = t.claimed_count - e.n
FROM (SELECT task_id, count(*) AS n FROM expired GROUP BY task_id) e
WHERE t.id = e.task_id
"""


# The lock re-checks the row's own columns (claimed_count) when another claim changed it meanwhile,
# which is why the count lives on the task row rather than in a subquery over assignments. Gold and
# other tasks are picked separately (is_gold is a key of the open-queue indexes, so each pick is an
# index range: in id order, or in uncertainty order for a project that orders its queue so).
_PICK_TASK = """
SELECT t.id FROM labeling_task t
WHERE t.project_id = %(project)s AND t.status = 'open' AND t.is_gold = %(gold)s
  AND t.claimed_count < t.required_count
  AND NOT EXISTS (
      SELECT 1 FROM labeling_assignment a
      WHERE a.task_id = t.id AND a.labeler_id = %(labeler)s AND a.state IN ('active', 'submitted', 'skipped'))
ORDER BY {order}
LIMIT 1
FOR UPDATE OF t SKIP LOCKED
"""

# Active task selection: the tasks the queue reward model is least sure of first (the uncertainty a scoring
# job wrote on each), tasks it has not scored yet after them in arrival order. The same index-range pick.
_PICK_ORDERS = {
    QueueOrder.ARRIVAL: _PICK_TASK.format(order="t.id"),
    QueueOrder.UNCERTAINTY: _PICK_TASK.format(order="t.uncertainty DESC NULLS LAST, t.id"),
}


_GOLD_SHARE = """
SELECT count(*) FILTER (WHERE t.is_gold), count(*)
FROM labeling_assignment a JOIN labeling_task t ON t.id = a.task_id
WHERE a.labeler_id = %(labeler)s AND t.project_id = %(project)s AND a.state IN ('active', 'submitted')
"""


_TAKE_TASK = """
WITH taken AS (UPDATE labeling_task SET claimed_count = claimed_count + 1 WHERE id = %(task)s)
INSERT INTO labeling_assignment (task_id, labeler_id, state, leased_at, lease_expires_at, skip_reason)
VALUES (%(task)s, %(labeler)s, 'active', now(), now() + %(lease)s, '')
ON CONFLICT (task_id, labeler_id) DO UPDATE
    SET state = 'active', leased_at = now(), lease_expires_at = now() + %(lease)s, skip_reason = ''
RETURNING id
"""


def _gold_first(cursor: Any, project: Project, params: dict[str, int]) -> tuple[bool, bool]:
    """Which kind of task to try first: gold while this labeler's share of gold is under the rate."""
    if project.gold_rate <= 0:
        return (False, True)
    cursor.execute(_GOLD_SHARE, params)
    gold, total = cursor.fetchone()
    return (True, False) if gold < project.gold_rate * (total + 1) else (False, True)


def leases_reclaim_expired() -> None:
    with connection.cursor() as cursor:
        cursor.execute(_RECLAIM_EXPIRED)


@transaction.atomic
def claim_next_task(*, project: Project, labeler: User) -> Assignment | None:
    """Lease the next task this labeler may do: their live lease if any, else a fresh one."""
    if version := guideline_version_pending_for(user=labeler, guideline=project.guideline):
        raise GuidelineNotAcknowledged(
            f"acknowledge guideline version {version.number} before taking a task",
            extra={"guideline_version": version.number},
        )
    with connection.cursor() as cursor:
        # A lease is cheap to lose: if the server crashed in the next few milliseconds, the labeler would
        # just take the next task. So the claim does not wait for its WAL flush (submits still do).
        cursor.execute(
            "SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(%s, %s)",
            [_LABELER_LOCK, labeler.pk],
        )
        live = (
            Assignment.objects.select_related("task__prompt")
            .filter(
                labeler=labeler,
                task__project=project,
                state=Assignment.State.ACTIVE,
                lease_expires_at__gt=timezone.now(),
            )
            .order_by("leased_at")
            .first()
        )
        if live is not None:
            return live
        cursor.execute(_RECLAIM_EXPIRED)
        params = {"project": project.pk, "labeler": labeler.pk}
        row = None
        for gold in _gold_first(cursor, project, params):
            cursor.execute(_PICK_ORDERS[QueueOrder(project.queue_order)], params | {"gold": gold})
            if row := cursor.fetchone():
                break
        if row is None:
            return None
        lease: Any = timedelta(seconds=project.lease_seconds)  # psycopg sends it as an interval
        cursor.execute(_TAKE_TASK, {"task": row[0], "labeler": labeler.pk, "lease": lease})
        assignment_id = cursor.fetchone()[0]
    return Assignment.objects.select_related("task__prompt").get(pk=assignment_id)


def locked_assignment(assignment_id: int, labeler: User) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("task__project")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None:
        raise NotFound("no such assignment")
    if assignment.labeler_id != labeler.pk:
        raise NotAllowed("this assignment belongs to another labeler")
    assignment_role(user=labeler, assignment=assignment)  # a labeler removed from the project may not
    return assignment


def require_live(assignment: Assignment) -> None:
    if assignment.state == Assignment.State.ACTIVE and assignment.lease_expires_at > timezone.now():
        return
    if assignment.state in (Assignment.State.ACTIVE, Assignment.State.EXPIRED):
        raise LeaseExpired("the lease on this task has expired; take the next task")
    raise Conflict(f"this task was {assignment.state} already; take the next task", field="assignment")


def _give_back(assignment: Assignment, state: str, reason: str = "") -> Assignment:
    assignment.state = state
    assignment.skip_reason = reason
    assignment.save(update_fields=["state", "skip_reason"])
    Task.objects.filter(pk=assignment.task_id).update(claimed_count=F("claimed_count") - 1)
    return assignment


@transaction.atomic
def assignment_skip(*, assignment_id: int, labeler: User, reason: str) -> Assignment:
    """Hand the task back for others; this labeler will not get it again."""
    assignment = locked_assignment(assignment_id, labeler)
    if assignment.state == Assignment.State.SKIPPED:
        return assignment
    require_live(assignment)
    if not reason.strip():
        raise DomainError("say why you skip this task", field="reason")
    return _give_back(assignment, Assignment.State.SKIPPED, reason.strip()[:500])


@transaction.atomic
def assignment_release(*, assignment_id: int, labeler: User) -> Assignment:
    """Hand the task back to the pool; this labeler may get it again later."""
    assignment = locked_assignment(assignment_id, labeler)
    if assignment.state == Assignment.State.RELEASED:
        return assignment
    require_live(assignment)
    return _give_back(assignment, Assignment.State.RELEASED)


@transaction.atomic
def assignment_renew(*, assignment_id: int, labeler: User) -> Assignment:
    """Extend a live lease while the labeler is still working on it."""
    assignment = locked_assignment(assignment_id, labeler)
    require_live(assignment)
    project = Project.objects.only("lease_seconds").get(pk=assignment.task.project_id)
    assignment.lease_expires_at = timezone.now() + timedelta(seconds=project.lease_seconds)
    assignment.save(update_fields=["lease_expires_at"])
    return assignment
