"""How much to trust each labeler: gold accuracy, agreement with consensus, time on task, pasted text.

Gold tasks are ranking tasks with a reference ranking (`GoldAnswer`). At the project's gold rate a
share of the ranking tasks is marked gold and asked of every labeler; the queue mixes them into each
labeler's work at that rate (`Project.gold_rate`). The score is a weighted mean of the signals a labeler has,
each in [0, 1], so that a snapshot can leave out or weigh down the work of low scorers.
"""

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from core.errors import DomainError
from core.types import User
from curation.models import GoldAnswer
from curation.quality.agreement import labeler_rankings, project_agreement
from labeling.models import Demonstration, Membership, Project, Ranking, Role, Task, TaskKind
from labeling.rankings import PairCounts, pair_agreement
from labeling.services.annotations import validate_tiers

# Weights of the signals in the score; a signal a labeler has no data for is left out and the rest rescaled.
WEIGHTS = {"gold": 0.4, "consensus": 0.3, "time": 0.15, "paste": 0.15}
# Robust z-score (median and MAD of log seconds, per task kind) beyond which a time on task is an outlier.
OUTLIER_Z = 3.5


@dataclass
class LabelerQuality:
    labeler_id: int
    username: str
    annotations: int = 0
    gold_pairs: PairCounts = field(default_factory=PairCounts)
    gold_tasks: int = 0
    consensus_pairs: PairCounts = field(default_factory=PairCounts)
    timed: int = 0  # annotations with a recorded time on task
    too_fast: int = 0
    too_slow: int = 0
    median_seconds: float | None = None
    written_chars: int = 0
    pasted_chars: int = 0

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_pairs.share

    @property
    def consensus_agreement(self) -> float | None:
        return self.consensus_pairs.share

    @property
    def outlier_share(self) -> float | None:
        return (self.too_fast + self.too_slow) / self.timed if self.timed else None

    @property
    def pasted_share(self) -> float | None:
        return min(1.0, self.pasted_chars / self.written_chars) if self.written_chars else None

    @property
    def score(self) -> float | None:
        signals = {
            "gold": self.gold_accuracy,
            "consensus": self.consensus_agreement,
            "time": None if self.outlier_share is None else 1 - self.outlier_share,
            "paste": None if self.pasted_share is None else 1 - self.pasted_share,
        }
        present = {k: v for k, v in signals.items() if v is not None}
        if not present:
            return None
        weight = sum(WEIGHTS[k] for k in present)
        return sum(WEIGHTS[k] * v for k, v in present.items()) / weight


# --- gold tasks ------------------------------------------------------------------------------------


@transaction.atomic
def gold_rate_set(*, project: Project, rate: float) -> Project:
    """Set the share of each labeler's tasks that are gold (the queue mixes them in at this rate)."""
    if not 0.0 <= rate <= 1.0:
        raise DomainError("the gold rate is a share between 0 and 1", field="gold_rate")
    project.gold_rate = rate
    project.save(update_fields=["gold_rate"])
    gold_mix_apply(project=project)
    return project


@transaction.atomic
def gold_answer_set(*, task: Task, tiers: list[list[int]], set_by: User) -> GoldAnswer:
    """Record the reference ranking of a ranking task, then re-apply the project's gold rate."""
    if task.kind != TaskKind.RANKING:
        raise DomainError("only ranking tasks take a gold ranking", field="task")
    validate_tiers(tiers, task.candidate_ids)
    gold, _ = GoldAnswer.objects.update_or_create(task=task, defaults={"tiers": tiers, "set_by": set_by})
    gold_mix_apply(project=task.project)
    return gold


@transaction.atomic
def gold_mix_apply(*, project: Project) -> int:
    """Mark as gold the first ceil(rate × ranking tasks) tasks that have a gold answer; returns how many.

    A gold task is asked of every labeler of the project, so its required count is raised to that.
    """
    wanted = math.ceil(
        project.gold_rate * Task.objects.filter(project=project, kind=TaskKind.RANKING).count()
    )
    with_answer = list(
        Task.objects.select_for_update()
        .filter(project=project, gold_answer__isnull=False)
        .order_by("id")
        .values_list("id", flat=True)
    )
    chosen, others = with_answer[:wanted], with_answer[wanted:]
    labelers = Membership.objects.filter(project=project, role=Role.LABELER).count()
    Task.objects.filter(pk__in=others, is_gold=True).update(is_gold=False)
    for task in Task.objects.filter(pk__in=chosen).exclude(status=Task.Status.CLOSED):
        task.is_gold = True
        task.required_count = max(task.required_count, labelers, 1)
        task.status = Task.Status.OPEN if task.completed_count < task.required_count else Task.Status.DONE
        task.save(update_fields=["is_gold", "required_count", "status"])
    return len(chosen)


# --- scores ----------------------------------------------------------------------------------------


def _time_outliers(rows: list[tuple[int, str, float]], quality: dict[int, LabelerQuality]) -> None:
    """Flag times on task far from the project's typical time for that kind (robust z on log seconds)."""
    by_kind: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for author, kind, seconds in rows:
        if seconds > 0:
            by_kind[kind].append((author, math.log(seconds)))
    for entries in by_kind.values():
        logs = [x for _, x in entries]
        median = statistics.median(logs)
        mad = statistics.median(abs(x - median) for x in logs)
        for author, x in entries:
            quality[author].timed += 1
            if mad == 0:
                continue
            z = 0.6745 * (x - median) / mad
            if z < -OUTLIER_Z:
                quality[author].too_fast += 1
            elif z > OUTLIER_Z:
                quality[author].too_slow += 1


def _assistant_chars(messages: list[dict]) -> int:
    return sum(len(m.get("content") or "") for m in messages if m.get("role") == "assistant")


def labeler_quality(*, project: Project) -> list[LabelerQuality]:
    """Every labeler's quality signals and score in the project, by username.

    Each annotation counts as its labeler made it: the first revision, whatever a reviewer edited later."""
    quality: dict[int, LabelerQuality] = {}
    first = Q(revision=1, task__project=project)
    ranking_rows = list(Ranking.objects.filter(first).values_list("author_id", "task__kind", "seconds"))
    # the reply is what follows the prompt's own turns
    demo_rows = [
        (author, kind, seconds, messages[len(prompt) :], pasted)
        for author, kind, seconds, messages, prompt, pasted in Demonstration.objects.filter(
            first
        ).values_list(
            "author_id", "task__kind", "seconds", "messages", "task__prompt__messages", "pasted_chars"
        )
    ]
    authors = {r[0] for r in ranking_rows} | {r[0] for r in demo_rows}
    names = dict(get_user_model().objects.filter(pk__in=authors).values_list("pk", "username"))
    for author in authors:
        quality[author] = LabelerQuality(labeler_id=author, username=names[author])
    for author, *_ in ranking_rows + demo_rows:
        quality[author].annotations += 1
    _time_outliers(
        [(a, k, s) for a, k, s in ranking_rows] + [(a, k, s) for a, k, s, *_ in demo_rows], quality
    )
    for author, _, _, messages, pasted in demo_rows:
        quality[author].written_chars += _assistant_chars(messages)
        quality[author].pasted_chars += pasted
    seconds: dict[int, list[float]] = defaultdict(list)
    for author, _, spent, *_ in ranking_rows + demo_rows:
        if spent > 0:
            seconds[author].append(spent)
    for author, times in seconds.items():
        quality[author].median_seconds = statistics.median(times)

    gold = dict(
        GoldAnswer.objects.filter(task__project=project, task__is_gold=True).values_list("task_id", "tiers")
    )
    for task_id, per_labeler in labeler_rankings(project=project).items():
        if task_id in gold:
            for author, tiers in per_labeler.items():
                quality[author].gold_pairs += pair_agreement(tiers, gold[task_id])
                quality[author].gold_tasks += 1
    for row in project_agreement(project=project).labelers:
        if row.labeler_id in quality:
            quality[row.labeler_id].consensus_pairs = row.consensus_pairs
    return sorted(quality.values(), key=lambda q: q.username)


def labeler_scores(*, project: Project) -> dict[int, float]:
    """Labeler id → score in [0, 1], for snapshot filters and weights; labelers with no signal are absent."""
    return {q.labeler_id: q.score for q in labeler_quality(project=project) if q.score is not None}


def labelers_below(*, project: Project, min_score: float) -> set[int]:
    """The labelers whose work a snapshot with this minimum score leaves out."""
    return {labeler for labeler, score in labeler_scores(project=project).items() if score < min_score}
