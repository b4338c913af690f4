"""Labeler agreement: pairwise agreement and Kendall's tau-b on rankings, Krippendorff's alpha on ratings.

Pairwise agreement is InstructGPT's figure (about 73% between labelers): over the candidate pairs two
labelers both order strictly, the share they order the same way. A pair either labeler left tied is
not compared (InstructGPT dropped ties) but counted, so a report can say how many were left out.

Agreement with consensus compares each labeler with the consensus of the others on the same task, by
the project's current default rule (`curation.quality.consensus.DEFAULT_RULE`, Kemeny-Young).

Labelers are compared on their own first revision of each ranking: a reviewer's edit is a later
revision by the reviewer, and counting it would make the reviewer a labeler and drop the labeler's own
work. How far reviewers changed the labelers' rankings is reported on its own (`reviewer_agreement`).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from math import sqrt
from typing import Any, Literal

from django.contrib.auth import get_user_model

from curation.quality.consensus import DEFAULT_RULE, ConsensusRule, consensus_ranking
from labeling.models import CandidateRating, Project, Ranking, Review, TaskKind
from labeling.rankings import PairCounts, pair_agreement, tier_ranks

Metric = Literal["nominal", "ordinal", "interval"]
Tiers = Sequence[Sequence[int]]


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b of two paired score lists (ties corrected); None when either list is constant."""
    if len(x) != len(y):
        raise ValueError("tau needs paired values")
    concordant = discordant = tied_x = tied_y = 0
    for i, j in combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            tied_x += 1
        elif dy == 0:
            tied_y += 1
        elif (dx > 0) == (dy > 0):
            concordant += 1
        else:
            discordant += 1
    denominator = (concordant + discordant + tied_x) * (concordant + discordant + tied_y)
    return (concordant - discordant) / sqrt(denominator) if denominator else None


def ranking_tau(a: Tiers, b: Tiers) -> float | None:
    """Kendall's tau-b between two rankings of the same candidates (1 = same order, -1 = reversed)."""
    rank_a, rank_b = tier_ranks(a), tier_ranks(b)
    shared = sorted(set(rank_a) & set(rank_b))
    return kendall_tau_b([float(rank_a[c]) for c in shared], [float(rank_b[c]) for c in shared])


def krippendorff_alpha(units: Iterable[Sequence[float]], metric: Metric = "interval") -> float | None:
    """Krippendorff's alpha over units, each the values its coders gave (missing values left out).

    Units with fewer than two values carry no pairing information and are skipped. None when there
    is nothing to compare or every value is the same (no expected disagreement).
    """
    coincidence: dict[tuple[float, float], Fraction] = defaultdict(Fraction)
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for i, j in combinations(range(m), 2):
            weight = Fraction(1, m - 1)
            coincidence[(values[i], values[j])] += weight
            coincidence[(values[j], values[i])] += weight
    totals: dict[float, Fraction] = defaultdict(Fraction)
    for (c, _), o in coincidence.items():
        totals[c] += o
    n = sum(totals.values(), Fraction(0))
    if n <= 1:
        return None
    delta = _distance(metric, totals)
    observed = sum((o * delta(c, k) for (c, k), o in coincidence.items()), Fraction(0))
    expected = sum((totals[c] * totals[k] * delta(c, k) for c in totals for k in totals), Fraction(0))
    if expected == 0:
        return None
    return float(1 - (n - 1) * observed / expected)


def _distance(metric: Metric, totals: Mapping[float, Fraction]):
    if metric == "nominal":
        return lambda c, k: Fraction(0 if c == k else 1)
    if metric == "interval":
        return lambda c, k: Fraction(c - k) ** 2
    if metric == "ordinal":
        values = sorted(totals)
        position = {v: i for i, v in enumerate(values)}

        def ordinal(c: float, k: float) -> Fraction:
            low, high = sorted((position[c], position[k]))
            between = sum((totals[values[g]] for g in range(low, high + 1)), Fraction(0))
            return (between - (totals[c] + totals[k]) / 2) ** 2

        return ordinal
    raise ValueError(f"unknown metric {metric!r}")


# --- a project's report ----------------------------------------------------------------------------


@dataclass
class LabelerAgreement:
    labeler_id: int
    username: str
    rankings: int = 0
    pairs: PairCounts = field(default_factory=PairCounts)  # against every other labeler on shared tasks
    taus: list[float] = field(default_factory=list)
    consensus_pairs: PairCounts = field(default_factory=PairCounts)  # against the others' consensus
    alpha_without: float | None = None  # the project's alpha with this labeler's ratings left out

    @property
    def mean_tau(self) -> float | None:
        return sum(self.taus) / len(self.taus) if self.taus else None


@dataclass
class AgreementReport:
    tasks_compared: int  # ranking tasks with two or more current rankings
    pairs: PairCounts
    mean_tau: float | None
    alpha: float | None  # on the 1-7 overall ratings of candidates rated by two or more labelers
    alpha_metric: Metric
    rated_candidates: int
    labelers: list[LabelerAgreement]
    labeler_pairs: dict[tuple[str, str], PairCounts]
    task_shares: list[float]  # per task: the share of compared pairs that agree
    consensus_rule: ConsensusRule = DEFAULT_RULE  # the rule of each labeler's `consensus_pairs`


def labeler_rankings(*, project: Project) -> dict[int, dict[int, list[list[int]]]]:
    """task id → labeler id → tiers: each labeler's own first revision of every ranking in the project
    (an all-bad ranking orders nothing and is left out)."""
    by_task: dict[int, dict[int, list[list[int]]]] = defaultdict(dict)
    rows = Ranking.objects.filter(
        task__project=project, task__kind=TaskKind.RANKING, revision=1, all_bad=False
    ).values_list("task_id", "assignment__labeler_id", "tiers")
    for task_id, labeler_id, tiers in rows:
        by_task[task_id][labeler_id] = tiers
    return by_task


def labeler_ratings(*, project: Project) -> dict[int, dict[int, int]]:
    """candidate id → labeler id → overall 1-7 rating, from each labeler's own first ranking revision."""
    by_candidate: dict[int, dict[int, int]] = defaultdict(dict)
    rows = CandidateRating.objects.filter(
        ranking__task__project=project, ranking__revision=1, overall__isnull=False
    ).values_list("candidate_id", "ranking__assignment__labeler_id", "overall")
    for candidate_id, labeler_id, overall in rows:
        if overall is not None:
            by_candidate[candidate_id][labeler_id] = overall
    return by_candidate


@dataclass
class ReviewerAgreement:
    """How one reviewer's verdicts on one labeler's rankings went, and how far their edits moved them."""

    reviewer: str
    labeler: str
    accepted: int = 0  # accepted as the labeler ranked them
    edited: int = 0
    rejected: int = 0
    pairs: PairCounts = field(default_factory=PairCounts)  # the reviewer's edits against the originals


def reviewer_agreement(*, project: Project) -> list[ReviewerAgreement]:
    """Per reviewer and labeler: the latest verdict on each ranking, and for edited ones the candidate
    pairs the reviewer's revision orders as the labeler's first revision did."""
    rankings: dict[int, dict[int, Any]] = defaultdict(dict)  # assignment → revision → (author, tiers)
    for assignment_id, revision, author_id, tiers in Ranking.objects.filter(
        task__project=project, task__kind=TaskKind.RANKING
    ).values_list("assignment_id", "revision", "author_id", "tiers"):
        rankings[assignment_id][revision] = (author_id, tiers)
    latest: dict[int, tuple[int, str, int]] = {}  # assignment → (reviewer, verdict, labeler)
    for assignment_id, reviewer_id, verdict, labeler_id in (
        Review.objects.filter(assignment__task__project=project, assignment__task__kind=TaskKind.RANKING)
        .order_by("created_at", "id")
        .values_list("assignment_id", "reviewer_id", "verdict", "assignment__labeler_id")
    ):
        latest[assignment_id] = (reviewer_id, verdict, labeler_id)
    people = {who for reviewer, _, labeler in latest.values() for who in (reviewer, labeler)}
    names = dict(get_user_model().objects.filter(pk__in=people).values_list("pk", "username"))
    rows: dict[tuple[int, int], ReviewerAgreement] = {}
    for assignment_id, (reviewer, verdict, labeler) in latest.items():
        row = rows.setdefault(
            (reviewer, labeler),
            ReviewerAgreement(
                reviewer=names.get(reviewer, str(reviewer)), labeler=names.get(labeler, str(labeler))
            ),
        )
        revisions = rankings.get(assignment_id, {})
        if verdict == Review.Verdict.REJECT:
            row.rejected += 1
        elif verdict == Review.Verdict.EDIT and 1 in revisions:
            row.edited += 1
            last = revisions[max(revisions)]
            row.pairs += pair_agreement(revisions[1][1], last[1])
        else:
            row.accepted += 1
    return sorted(rows.values(), key=lambda r: (r.reviewer, r.labeler))


def project_agreement(
    *, project: Project, metric: Metric = "ordinal", consensus_rule: ConsensusRule = DEFAULT_RULE
) -> AgreementReport:
    """Agreement between the labelers of a project, overall and per labeler."""
    rankings = labeler_rankings(project=project)
    ratings = labeler_ratings(project=project)
    labeler_ids = {a for per_task in rankings.values() for a in per_task} | {
        a for per_candidate in ratings.values() for a in per_candidate
    }
    names = dict(get_user_model().objects.filter(pk__in=labeler_ids).values_list("pk", "username"))
    labelers = {pk: LabelerAgreement(labeler_id=pk, username=names.get(pk, str(pk))) for pk in labeler_ids}
    total, taus, task_shares = PairCounts(), [], []
    between: dict[tuple[str, str], PairCounts] = defaultdict(PairCounts)
    compared_tasks = 0
    for per_task in rankings.values():
        for author in per_task:
            labelers[author].rankings += 1
        if len(per_task) < 2:
            continue
        compared_tasks += 1
        task_pairs = PairCounts()
        for (a, tiers_a), (b, tiers_b) in combinations(sorted(per_task.items()), 2):
            counts = pair_agreement(tiers_a, tiers_b)
            task_pairs += counts
            labelers[a].pairs += counts
            labelers[b].pairs += counts
            key = tuple(sorted((labelers[a].username, labelers[b].username)))
            between[key] += counts  # type: ignore[index]
            if (tau := ranking_tau(tiers_a, tiers_b)) is not None:
                taus.append(tau)
                labelers[a].taus.append(tau)
                labelers[b].taus.append(tau)
        total += task_pairs
        if task_pairs.share is not None:
            task_shares.append(task_pairs.share)
        for author, tiers in per_task.items():
            others = [t for other, t in per_task.items() if other != author]
            consensus = consensus_ranking(others, rule=consensus_rule)
            labelers[author].consensus_pairs += pair_agreement(tiers, consensus.tiers)
    rated = [list(v.values()) for v in ratings.values() if len(v) >= 2]
    for labeler in labelers.values():
        labeler.alpha_without = krippendorff_alpha(
            ([r for who, r in v.items() if who != labeler.labeler_id] for v in ratings.values()), metric
        )
    return AgreementReport(
        tasks_compared=compared_tasks,
        pairs=total,
        mean_tau=sum(taus) / len(taus) if taus else None,
        alpha=krippendorff_alpha(rated, metric),
        alpha_metric=metric,
        rated_candidates=len(rated),
        labelers=sorted(labelers.values(), key=lambda x: x.username),
        labeler_pairs=dict(between),
        task_shares=task_shares,
        consensus_rule=consensus_rule,
    )
