"""The leaderboard of a project's model versions as people see it: the blind votes' Bradley-Terry scores,
records against a baseline and position bias (curation.quality.leaderboard), beside each version's
automatic figures: pass@k on a practice set from its practice runs, and the mean score a reward model
gives the answers it wrote for the evaluation."""

from dataclasses import dataclass, field
from math import comb
from typing import Any

from django.db.models import Avg, Count

from core.errors import DomainError
from curation.models import PracticeSet
from curation.quality.leaderboard import Leaderboard, Record, Score, Vote, leaderboard
from labeling.models import Project
from labeling.selectors.evaluation import VOTE_FIELDS, evaluation_group_keys, evaluation_votes, prompt_group
from registry.models import ModelVersion
from registry.selectors import models_for
from trainer_bridge.models import AnswerScore, JobStatus, PracticeResult, PracticeRun

MAX_K = 64


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """The unbiased pass@k of one problem from n samples with c correct (Chen et al., 2021)."""
    if n < k:
        return None
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


@dataclass(frozen=True)
class PracticeFigure:
    run: PracticeRun
    samples: int
    problems: int
    pass_at_1: float | None
    pass_at_k: float | None


@dataclass(frozen=True)
class RewardFigure:
    mean: float
    answers: int


@dataclass
class VersionRow:
    version: ModelVersion
    score: Score
    record: Record | None  # its direct votes against the baseline
    practice: PracticeFigure | None = None
    reward: RewardFigure | None = None


@dataclass
class ProjectLeaderboard:
    board: Leaderboard
    rows: list[VersionRow]
    baseline: ModelVersion | None
    by: str
    group_keys: list[str]
    groups: list[tuple[str, list[tuple[ModelVersion, Record]]]]
    reward_model: ModelVersion | None
    reward_models: list[ModelVersion]
    practice_set: PracticeSet | None
    practice_sets: list[PracticeSet]
    k: int
    accepted_only: bool
    names: dict[int, str] = field(default_factory=dict)


def _practice_figures(
    practice_set: PracticeSet, versions: list[int], k: int
) -> dict[int | None, PracticeFigure]:
    """Each version's newest finished practice run on the set, as pass@1 and pass@k over its problems."""
    latest: dict[int | None, PracticeRun] = {}
    for run in PracticeRun.objects.filter(
        practice_set=practice_set, model_version_id__in=versions, status=JobStatus.DONE
    ).order_by("model_version_id", "-finished_at", "-pk"):
        latest.setdefault(run.model_version_id, run)
    figures = {}
    for version_id, run in latest.items():
        results = list(PracticeResult.objects.filter(run=run).values_list("total", "passed"))
        at_1 = [pass_at_k(n, c, 1) for n, c in results]
        at_k = [pass_at_k(n, c, k) for n, c in results]
        figures[version_id] = PracticeFigure(
            run=run,
            samples=run.samples,
            problems=len(results),
            pass_at_1=_mean(at_1),
            pass_at_k=_mean(at_k),
        )
    return figures


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known and len(known) == len(values) else None


def _reward_figures(
    project: Project, reward_model: ModelVersion, versions: list[int]
) -> dict[int, RewardFigure]:
    rows = (
        AnswerScore.objects.filter(
            reward_model=reward_model,
            candidate__prompt__project=project,
            candidate__model_version_id__in=versions,
        )
        .values("candidate__model_version_id")
        .annotate(mean=Avg("score"), answers=Count("id"))
    )
    return {r["candidate__model_version_id"]: RewardFigure(r["mean"], r["answers"]) for r in rows}


def project_leaderboard(
    *,
    project: Project,
    baseline_id: int | None = None,
    by: str = "source",
    reward_model_id: int | None = None,
    practice_set_id: int | None = None,
    k: int = 8,
    accepted_only: bool = False,
    rounds: int = 1000,
) -> ProjectLeaderboard:
    """Everything the leaderboard shows; a reward model or practice set left unnamed is the newest one
    with figures for these versions."""
    if not 1 <= k <= MAX_K:
        raise DomainError(f"k is between 1 and {MAX_K}", field="k")
    group_keys = evaluation_group_keys(project=project)
    if by not in group_keys:
        raise DomainError(f"break down by one of {group_keys}", field="by")
    rows = list(evaluation_votes(project=project, accepted_only=accepted_only).values(*VOTE_FIELDS))
    votes = [
        Vote(
            left=r["task__evaluation_pair__left_version_id"],
            right=r["task__evaluation_pair__right_version_id"],
            choice=r["choice"],
            group=prompt_group(r, by),
        )
        for r in rows
    ]
    board = leaderboard(votes, baseline=baseline_id, rounds=rounds)
    versions = ModelVersion.objects.in_bulk(board.versions)
    usable = list(models_for(project_id=project.pk))
    reward_models = [m for m in usable if m.kind == ModelVersion.Kind.RM]
    reward_model = _chosen(reward_models, reward_model_id, "reward_model")
    if reward_model is None and reward_models:
        scored = set(
            AnswerScore.objects.filter(candidate__prompt__project=project).values_list(
                "reward_model_id", flat=True
            )
        )
        reward_model = next((m for m in reward_models if m.pk in scored), None)
    practice_sets = list(PracticeSet.objects.filter(project=project).order_by("-pk"))
    practice_set = _chosen(practice_sets, practice_set_id, "practice_set")
    if practice_set is None and practice_sets:
        with_runs = set(
            PracticeRun.objects.filter(
                practice_set__project=project, model_version_id__in=board.versions, status=JobStatus.DONE
            ).values_list("practice_set_id", flat=True)
        )
        practice_set = next((s for s in practice_sets if s.pk in with_runs), None)
    practice = _practice_figures(practice_set, board.versions, k) if practice_set else {}
    reward = _reward_figures(project, reward_model, board.versions) if reward_model else {}
    records = {r.version: r for r in board.records}
    table = [
        VersionRow(
            version=versions[s.version],
            score=s,
            record=records.get(s.version),
            practice=practice.get(s.version),
            reward=reward.get(s.version),
        )
        for s in board.scores
    ]
    groups = [
        (name, [(versions[r.version], r) for r in group_records])
        for name, group_records in board.groups.items()
    ]
    return ProjectLeaderboard(
        board=board,
        rows=table,
        baseline=versions.get(board.baseline) if board.baseline else None,
        by=by,
        group_keys=group_keys,
        groups=groups,
        reward_model=reward_model,
        reward_models=reward_models,
        practice_set=practice_set,
        practice_sets=practice_sets,
        k=k,
        accepted_only=accepted_only,
        names={pk: v.name for pk, v in versions.items()},
    )


def _chosen(options: list[Any], pk: int | None, field_name: str) -> Any:
    if pk is None:
        return None
    found = next((o for o in options if o.pk == pk), None)
    if found is None:
        raise DomainError(f"no such {field_name.replace('_', ' ')} in this project", field=field_name)
    return found


def leaderboard_payload(view: ProjectLeaderboard) -> dict[str, Any]:
    """The leaderboard as the API answers it."""
    board = view.board
    position = board.position

    def record(r: Record | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {
            "wins": r.wins,
            "ties": r.ties,
            "losses": r.losses,
            "win_rate": r.rate("wins"),
            "tie_rate": r.rate("ties"),
            "loss_rate": r.rate("losses"),
        }

    return {
        "votes": board.votes,
        "model": "bradley-terry, ties as half a win each way, one virtual tie per version against θ = 0",
        "scale": "elo: 1000 + 400 · θ / ln 10, θ centred",
        "bootstrap_rounds": board.rounds,
        "accepted_only": view.accepted_only,
        "baseline": {"id": view.baseline.pk, "name": view.baseline.name} if view.baseline else None,
        "versions": [
            {
                "id": row.version.pk,
                "name": row.version.name,
                "kind": row.version.kind,
                "rating": round(row.score.rating, 2),
                "interval_95": [round(row.score.low, 2), round(row.score.high, 2)],
                "votes": row.score.votes,
                "p_beats_baseline": row.score.win_vs_baseline,
                "against_baseline": record(row.record),
                "practice": {
                    "practice_set": view.practice_set.pk if view.practice_set else None,
                    "run": row.practice.run.pk,
                    "samples": row.practice.samples,
                    "problems": row.practice.problems,
                    "pass_at_1": row.practice.pass_at_1,
                    f"pass_at_{view.k}": row.practice.pass_at_k,
                }
                if row.practice
                else None,
                "reward": {
                    "reward_model": view.reward_model.pk if view.reward_model else None,
                    "mean_score": row.reward.mean,
                    "answers": row.reward.answers,
                }
                if row.reward
                else None,
            }
            for row in view.rows
        ],
        "by": view.by,
        "groups": [
            {
                "group": name,
                "against_baseline": [{"id": v.pk, "name": v.name} | (record(r) or {}) for v, r in records],
            }
            for name, records in view.groups
        ],
        "position_bias": {
            "left_wins": position.left_wins,
            "right_wins": position.right_wins,
            "ties": position.ties,
            "left_share_of_decided": position.left_share,
            "interval_95": list(position.interval) if position.interval else None,
            "biased": position.biased,
        },
    }
