"""The A/B leaderboard of model versions from blind votes: Bradley-Terry scores with bootstrap intervals,
win/tie/loss rates against a baseline, and a position-bias check. Model-free: votes in, figures out.

The model. Version i beats version j with probability σ(θ_i − θ_j). A tie counts as half a win each way
(so a tie between i and j adds 0.5 to i's wins over j and 0.5 to j's over i); a tie-aware model such as
Davidson's was not used: with ties counted this way the scores stay those of the plain model, which is
what people compare across leaderboards. Each version also gets one virtual tie against a reference of
strength θ = 0, a weak prior that keeps every score finite (a version that won every vote, or a
comparison graph in two parts, would otherwise drift to infinity) and weighs as one vote among many.

The fit maximises Σ W_ij log σ(θ_i − θ_j) + Σ_i ½ [log σ(θ_i) + log σ(−θ_i)] by Newton's method (the
objective is concave; a step that would lower it is halved). Scores are centred (mean θ = 0) and shown
on the Elo scale, 1000 + 400 · θ / ln 10: a 100-point gap means the higher version wins about 64% of
the time.

The intervals are percentile bootstrap intervals: the votes are resampled with replacement (as a
multinomial draw over the distinct (left, right, choice) outcomes, which is the same thing) and the model
refitted, `rounds` times from a fixed seed, so the page shows the same interval for the same votes.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

ELO_SCALE = 400 / math.log(10)
ELO_BASE = 1000.0
Z95 = 1.959963984540054
LEFT, RIGHT, TIE = "left", "right", "tie"


@dataclass(frozen=True)
class Vote:
    """One blind vote: the versions shown on the left and on the right, the choice, and its prompt's group."""

    left: int
    right: int
    choice: str  # left, right or tie
    group: str = ""


def win_matrix(cells: np.ndarray, counts: np.ndarray, size: int) -> np.ndarray:
    """W[..., i, j]: wins of version i over version j, ties counted as half a win each way.

    `cells` is an (n, 3) array of (winner index, loser index, tie) per distinct outcome; `counts` holds how
    often each was seen, shape (n,) or (rounds, n)."""
    weight = np.where(cells[:, 2] == 1, 0.5, 1.0)
    wins = np.zeros((*counts.shape[:-1], size, size))
    for c, (i, j, tie) in enumerate(cells):
        wins[..., i, j] += counts[..., c] * weight[c]
        if tie:
            wins[..., j, i] += counts[..., c] * weight[c]
    return wins


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(_log_sigmoid(x))


def log_likelihood(theta: np.ndarray, wins: np.ndarray, virtual_ties: float = 1.0) -> np.ndarray:
    """Σ W_ij log σ(θ_i − θ_j) plus each version's virtual tie against θ = 0 (the fit's objective)."""
    margins = theta[..., :, None] - theta[..., None, :]
    prior = _log_sigmoid(theta) + _log_sigmoid(-theta)
    return (wins * _log_sigmoid(margins)).sum(axis=(-1, -2)) + virtual_ties / 2 * prior.sum(axis=-1)


def bradley_terry(
    wins: np.ndarray, *, virtual_ties: float = 1.0, tolerance: float = 1e-10, max_steps: int = 100
) -> np.ndarray:
    """Centred log-strengths θ from a win matrix W (V × V), or from a stack of them (rounds × V × V).

    Newton's method with step halving: the objective is concave, so a few steps reach the maximum, and a
    step that would lower it is halved until it does not (each bootstrap round on its own)."""
    wins = np.asarray(wins, dtype=float)
    games = wins + np.swapaxes(wins, -1, -2)
    theta = np.zeros(wins.shape[:-1])
    value = log_likelihood(theta, wins, virtual_ties)
    for _ in range(max_steps):
        chance = _sigmoid(theta[..., :, None] - theta[..., None, :])
        gradient = (wins - games * chance).sum(axis=-1) + virtual_ties * (0.5 - _sigmoid(theta))
        curvature = games * chance * (1 - chance)
        prior = virtual_ties * _sigmoid(theta) * _sigmoid(-theta)
        # minus the Hessian: positive definite thanks to the prior's curvature on the diagonal
        hessian = np.eye(theta.shape[-1]) * (curvature.sum(axis=-1) + prior)[..., None] - curvature
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        size = np.ones(theta.shape[:-1])
        for _ in range(40):
            tried = theta + size[..., None] * step
            tried_value = log_likelihood(tried, wins, virtual_ties)
            better = tried_value >= value - 1e-12
            if better.all():
                break
            size = np.where(better, size, size / 2)
        theta, value = tried, tried_value
        if np.max(np.abs(size[..., None] * step)) < tolerance:
            break
    return theta - theta.mean(axis=-1, keepdims=True)


def elo(theta: float) -> float:
    """A centred log-strength on the Elo scale."""
    return ELO_BASE + ELO_SCALE * float(theta)


def wilson(successes: int, trials: int) -> tuple[float, float] | None:
    """The Wilson score 95% interval of a proportion, or None without trials."""
    if trials == 0:
        return None
    share = successes / trials
    centre = (share + Z95**2 / (2 * trials)) / (1 + Z95**2 / trials)
    half = Z95 * math.sqrt(share * (1 - share) / trials + Z95**2 / (4 * trials**2)) / (1 + Z95**2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Score:
    version: int
    rating: float  # Elo scale
    low: float  # 95% bootstrap interval, Elo scale
    high: float
    votes: int  # votes the version took part in
    win_vs_baseline: float | None  # σ(θ − θ_baseline): the model's chance it beats the baseline


@dataclass(frozen=True)
class Record:
    """Direct votes of a version against the baseline."""

    version: int
    wins: int
    ties: int
    losses: int

    @property
    def total(self) -> int:
        return self.wins + self.ties + self.losses

    def rate(self, part: str) -> float | None:
        return getattr(self, part) / self.total if self.total else None


@dataclass(frozen=True)
class PositionBias:
    left_wins: int
    right_wins: int
    ties: int
    interval: tuple[float, float] | None  # of the left's share of the decided votes

    @property
    def decided(self) -> int:
        return self.left_wins + self.right_wins

    @property
    def left_share(self) -> float | None:
        return self.left_wins / self.decided if self.decided else None

    @property
    def biased(self) -> bool:
        """Whether 50% lies outside the interval: the side an answer is shown on sways the votes."""
        return self.interval is not None and not self.interval[0] <= 0.5 <= self.interval[1]


@dataclass
class Leaderboard:
    votes: int
    versions: list[int]  # every version with a vote, best first
    baseline: int | None
    scores: list[Score]
    records: list[Record]  # against the baseline, in score order
    groups: dict[str, list[Record]]  # the same per prompt group, groups in name order
    position: PositionBias
    rounds: int


def _cells(votes: Sequence[Vote], index: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (winner, loser, tie) outcomes and how often each was voted."""
    tally: Counter[tuple[int, int, int]] = Counter()
    for vote in votes:
        left, right = index[vote.left], index[vote.right]
        if vote.choice == LEFT:
            tally[(left, right, 0)] += 1
        elif vote.choice == RIGHT:
            tally[(right, left, 0)] += 1
        else:
            tally[(min(left, right), max(left, right), 1)] += 1
    keys = sorted(tally)
    return np.array(keys, dtype=int).reshape(-1, 3), np.array([tally[k] for k in keys], dtype=float)


def bootstrap_thetas(votes: Sequence[Vote], versions: list[int], *, rounds: int, seed: int) -> np.ndarray:
    """θ refitted on `rounds` resamples of the votes (rounds × V)."""
    cells, counts = _cells(votes, {v: i for i, v in enumerate(versions)})
    rng = np.random.default_rng(seed)
    resampled = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=rounds).astype(float)
    return bradley_terry(win_matrix(cells, resampled, len(versions)))


def records_against(votes: Iterable[Vote], baseline: int) -> dict[int, Record]:
    tally: dict[int, Counter[str]] = defaultdict(Counter)
    for vote in votes:
        if baseline not in (vote.left, vote.right) or vote.left == vote.right:
            continue
        other = vote.right if vote.left == baseline else vote.left
        if vote.choice == TIE:
            tally[other]["ties"] += 1
        elif (vote.choice == LEFT) == (vote.left == other):
            tally[other]["wins"] += 1
        else:
            tally[other]["losses"] += 1
    return {v: Record(v, t["wins"], t["ties"], t["losses"]) for v, t in tally.items()}


def position_bias(votes: Iterable[Vote]) -> PositionBias:
    choices = Counter(vote.choice for vote in votes)
    left, right = choices[LEFT], choices[RIGHT]
    return PositionBias(left, right, choices[TIE], wilson(left, left + right))


def leaderboard(
    votes: Sequence[Vote], *, baseline: int | None = None, rounds: int = 1000, seed: int = 0
) -> Leaderboard:
    """Scores, intervals and records of every version that has a vote; `baseline` defaults to the version
    with the lowest id (usually the oldest)."""
    versions = sorted({v for vote in votes for v in (vote.left, vote.right)})
    position = position_bias(votes)
    if not votes:
        return Leaderboard(0, [], None, [], [], {}, position, rounds)
    if baseline not in versions:
        baseline = versions[0]
    cells, counts = _cells(votes, {v: i for i, v in enumerate(versions)})
    theta = bradley_terry(win_matrix(cells, counts, len(versions)))
    spread = bootstrap_thetas(votes, versions, rounds=rounds, seed=seed)
    low, high = np.percentile(spread, [2.5, 97.5], axis=0)
    taking_part = Counter(v for vote in votes for v in {vote.left, vote.right})
    base = versions.index(baseline)
    scores = [
        Score(
            version=v,
            rating=elo(theta[i]),
            low=elo(low[i]),
            high=elo(high[i]),
            votes=taking_part[v],
            win_vs_baseline=None if v == baseline else 1 / (1 + math.exp(theta[base] - theta[i])),
        )
        for i, v in enumerate(versions)
    ]
    scores.sort(key=lambda s: (-s.rating, s.version))
    order = [s.version for s in scores]
    direct = records_against(votes, baseline)
    records = [direct[v] for v in order if v in direct]
    groups: dict[str, list[Record]] = {}
    for group in sorted({vote.group for vote in votes}):
        in_group = records_against([vote for vote in votes if vote.group == group], baseline)
        groups[group] = [in_group[v] for v in order if v in in_group]
    return Leaderboard(len(votes), order, baseline, scores, records, groups, position, rounds)
