"""Active task selection: a project's queue order and reward model, and the scores a scoring job stores on
open ranking tasks (the uncertainty the queue orders by, and each answer's score for reviewers)."""

from collections.abc import Mapping, Sequence

from django.db import transaction

from core.errors import DomainError
from core.types import User
from labeling.access import require_role
from labeling.active import ranking_uncertainty
from labeling.models import Project, QueueOrder, Role, Task, TaskKind, TaskRewardScores
from registry.models import ModelVersion


def check_queue_reward_model(*, project: Project, reward_model: ModelVersion) -> None:
    if reward_model.kind != ModelVersion.Kind.RM:
        raise DomainError(f"{reward_model.name} is not a reward model", field="reward_model")
    if reward_model.project_id not in (None, project.pk):
        raise DomainError("this model belongs to another project", field="reward_model")


@transaction.atomic
def active_selection_set(
    *, project: Project, user: User | None, queue_order: str, reward_model: ModelVersion | None
) -> Project:
    """Choose the ranking queue's order and the reward model whose scores order it (admins). The scores
    themselves come from a scoring job, never from a claim. Uncertainty order may be chosen before the
    project has a reward model: until a retrain registers one, no task has an uncertainty and the queue
    runs in arrival order."""
    if user is not None:
        require_role(user=user, project=project, role=Role.ADMIN)
    if queue_order not in QueueOrder.values:
        raise DomainError(f"queue_order is one of {QueueOrder.values}", field="queue_order")
    if reward_model is not None:
        check_queue_reward_model(project=project, reward_model=reward_model)
    project = Project.objects.select_for_update().get(pk=project.pk)
    project.queue_order = queue_order
    project.queue_reward_model = reward_model
    project.save(update_fields=["queue_order", "queue_reward_model"])
    return project


@transaction.atomic
def task_reward_scores_store(
    *, project: Project, reward_model: ModelVersion, scores: Mapping[int, Sequence[float]]
) -> int:
    """Store a reward model's scores of open ranking tasks' answers ({task id: a score per candidate, in the
    task's candidate order}) and the uncertainty they give each task. Tasks of other projects, closed ones
    and lists that do not match the task's candidates are left alone. Returns how many tasks were stored."""
    check_queue_reward_model(project=project, reward_model=reward_model)
    tasks = list(
        Task.objects.filter(
            project=project, kind=TaskKind.RANKING, status=Task.Status.OPEN, pk__in=list(scores)
        ).only("pk", "candidate_ids")
    )
    kept = [t for t in tasks if len(scores[t.pk]) == len(t.candidate_ids)]
    for task in kept:
        task.uncertainty = ranking_uncertainty(scores[task.pk])
    Task.objects.bulk_update(kept, ["uncertainty"], batch_size=1000)
    TaskRewardScores.objects.bulk_create(
        [TaskRewardScores(task=t, reward_model=reward_model, scores=list(scores[t.pk])) for t in kept],
        update_conflicts=True,
        unique_fields=["task"],
        update_fields=["reward_model", "scores", "scored_at"],
        batch_size=1000,
    )
    return len(kept)
