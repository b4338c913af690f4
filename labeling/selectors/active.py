"""Reads for active task selection: what a scoring job scores, how far it got, and a task's scores."""

from dataclasses import dataclass

from django.db.models import Count, Q

from labeling.models import Candidate, Project, Task, TaskKind, TaskRewardScores


def open_ranking_tasks(*, project: Project) -> list[tuple[int, list[int]]]:
    """(task id, candidate ids) of every open ranking task of the project, in id order."""
    return list(
        Task.objects.filter(project=project, kind=TaskKind.RANKING, status=Task.Status.OPEN)
        .order_by("pk")
        .values_list("pk", "candidate_ids")
    )


@dataclass(frozen=True)
class QueueScoring:
    open_tasks: int
    scored: int  # open ranking tasks with an uncertainty
    scored_by_current: int  # ...scored by the project's queue reward model
    most_uncertain: list[Task]


def queue_scoring(*, project: Project, top: int = 10) -> QueueScoring:
    """How much of the open ranking queue carries an uncertainty, and its most uncertain tasks."""
    open_ranking = Task.objects.filter(project=project, kind=TaskKind.RANKING, status=Task.Status.OPEN)
    counts = open_ranking.aggregate(
        total=Count("pk"),
        scored=Count("pk", filter=Q(uncertainty__isnull=False)),
        current=Count(
            "pk",
            filter=Q(
                uncertainty__isnull=False,
                reward_scores__reward_model_id=project.queue_reward_model_id,
            ),
        ),
    )
    most = list(
        open_ranking.filter(uncertainty__isnull=False)
        .select_related("prompt")
        .order_by("-uncertainty", "pk")[:top]
    )
    return QueueScoring(counts["total"], counts["scored"], counts["current"], most)


@dataclass(frozen=True)
class AnswerScores:
    reward_model_name: str
    scored_at: str
    by_candidate: dict[int, float]
    uncertainty: float | None


def task_answer_scores(*, task: Task) -> AnswerScores | None:
    """The reward-model scores of a ranking task's answers, for reviewers; None when never scored."""
    found = TaskRewardScores.objects.filter(task=task).select_related("reward_model").first()
    if found is None:
        return None
    return AnswerScores(
        reward_model_name=found.reward_model.name,
        scored_at=f"{found.scored_at:%Y-%m-%d %H:%M}",
        by_candidate=dict(zip(task.candidate_ids, found.scores, strict=False)),
        uncertainty=task.uncertainty,
    )


def candidates_of(*, task_ids: list[int]) -> dict[int, list[Candidate]]:
    """Each task's candidates in the task's order (the order its scores are stored in)."""
    tasks = dict(Task.objects.filter(pk__in=task_ids).values_list("pk", "candidate_ids"))
    found = Candidate.objects.in_bulk([cid for ids in tasks.values() for cid in ids])
    return {tid: [found[c] for c in ids if c in found] for tid, ids in tasks.items()}
