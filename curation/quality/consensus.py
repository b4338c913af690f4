"""One ranking from several labelers' rankings of the same candidates (tiers, best first, ties allowed).

Two rules:

- **Kemeny-Young** (`KEMENY_YOUNG`, the default). The consensus is the order that disagrees with the
  fewest labeler preferences: the sum, over every pair it puts one way, of the labelers who put that
  pair the other way. A tie in a labeler's ranking is no preference either way. (Counting it as half
  a preference each way adds the same amount to every order, so the winner is the same.) The rule is
  Condorcet-consistent: an answer that a majority prefers to each other answer comes first. It is
  solved exactly, by dynamic programming over the subsets of candidates (2^K states, K <= 9).
  Several orders can be equally optimal. The one taken is the first when the candidates are compared
  by mean rank and then by id, position by position from the top. The order is then cut into tiers:
  a candidate joins the tier above it when the labelers have no majority either way (equal support)
  between it and every candidate of that tier.
- **Mean rank** (`MEAN_RANK`, a Borda count with ties). Each labeler gives each candidate the mean
  position of its tier (a tie of the 2nd and 3rd answers ranks both 2.5). Candidates are ordered by
  their mean rank over labelers, and equal mean ranks (exact fractions, no float noise) share a tier.
  Snapshots frozen before their manifest named a rule keep it.

With one labeler, both rules give that labeler's ranking, ties included.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

from labeling.rankings import tier_ranks

ConsensusRule = Literal["kemeny_young", "mean_rank"]
KEMENY_YOUNG: Final = "kemeny_young"
MEAN_RANK: Final = "mean_rank"
RULES: tuple[ConsensusRule, ...] = (KEMENY_YOUNG, MEAN_RANK)
DEFAULT_RULE: ConsensusRule = KEMENY_YOUNG
MAX_KEMENY_CANDIDATES = 12  # 2^12 subsets; a ranking task has at most 9 candidates

Tiers = Sequence[Sequence[int]]


class RankingsDisagreeOnCandidates(ValueError):
    pass


@dataclass(frozen=True)
class Consensus:
    tiers: list[list[int]]  # candidate ids, best tier first
    mean_ranks: dict[int, Fraction]  # 1 = best; the Kemeny-Young tie-break
    rankings: int
    rule: ConsensusRule = DEFAULT_RULE
    # Kemeny-Young: the labeler preferences the consensus order goes against (ties count none)
    disagreements: int | None = None


def rule_described(rule: ConsensusRule) -> dict[str, str]:
    """What a snapshot manifest says about its consensus rule: the rule, how ties count, the tie-break."""
    if rule == KEMENY_YOUNG:
        return {
            "rule": KEMENY_YOUNG,
            "ties_in_rankings": "no preference either way",
            "equally_optimal_orders": "the first by mean rank, then by candidate id",
            "tiers": "neighbours with no pairwise majority between them share a tier",
        }
    return {
        "rule": MEAN_RANK,
        "ties_in_rankings": "each member ranks at the mean of the tier's positions",
        "equally_optimal_orders": "none: candidates are ordered by mean rank",
        "tiers": "equal mean ranks share a tier",
    }


def consensus_ranking(rankings: Sequence[Tiers], *, rule: ConsensusRule = DEFAULT_RULE) -> Consensus:
    """The consensus of rankings (each a list of tiers) that order the same candidates."""
    if not rankings:
        raise ValueError("a consensus needs at least one ranking")
    if rule not in RULES:
        raise ValueError(f"unknown consensus rule {rule!r}; use one of {list(RULES)}")
    per_ranking = [tier_ranks(tiers) for tiers in rankings]
    candidates = set(per_ranking[0])
    if any(set(ranks) != candidates for ranks in per_ranking[1:]):
        raise RankingsDisagreeOnCandidates("rankings of one task must order the same candidates")
    mean = {c: sum((r[c] for r in per_ranking), Fraction(0)) / len(per_ranking) for c in candidates}
    by_mean = sorted(candidates, key=lambda c: (mean[c], c))
    if rule == MEAN_RANK:
        tiers: list[list[int]] = []
        for candidate in by_mean:
            if tiers and mean[tiers[-1][0]] == mean[candidate]:
                tiers[-1].append(candidate)
            else:
                tiers.append([candidate])
        return Consensus(tiers=tiers, mean_ranks=mean, rankings=len(per_ranking), rule=MEAN_RANK)

    wins = preference_counts(per_ranking, by_mean)
    order = kemeny_order(wins)
    return Consensus(
        tiers=[[by_mean[i] for i in tier] for tier in _tiers_of(order, wins)],
        mean_ranks=mean,
        rankings=len(per_ranking),
        rule=KEMENY_YOUNG,
        disagreements=kemeny_disagreements(order, wins),
    )


def preference_counts(
    per_ranking: Sequence[dict[int, Fraction]], candidates: Sequence[int]
) -> list[list[int]]:
    """wins[i][j]: the rankings that put candidates[i] strictly above candidates[j] (a tie: neither)."""
    n = len(candidates)
    wins = [[0] * n for _ in range(n)]
    for ranks in per_ranking:
        rank = [ranks[c] for c in candidates]
        for i in range(n):
            row = wins[i]
            for j in range(n):
                if rank[i] < rank[j]:
                    row[j] += 1
    return wins


def kemeny_disagreements(order: Sequence[int], wins: Sequence[Sequence[int]]) -> int:
    """The Kemeny score of an order of positions 0..n-1: the preferences it goes against."""
    return sum(wins[later][earlier] for k, earlier in enumerate(order) for later in order[k + 1 :])


def kemeny_order(wins: Sequence[Sequence[int]]) -> list[int]:
    """A Kemeny-optimal order of positions 0..n-1, the first of the optimal ones in position order.

    Positions are the candidates in tie-break order, so "first" means: best by that order at the top,
    then at the second place, and so on. Without a majority cycle the majorities give it directly.
    """
    return _majority_order(wins) or kemeny_order_by_subsets(wins)


def kemeny_order_by_subsets(wins: Sequence[Sequence[int]]) -> list[int]:
    """`kemeny_order` by dynamic programming over the subsets of candidates: exact for any profile."""
    n = len(wins)
    if n > MAX_KEMENY_CANDIDATES:
        raise ValueError(f"an exact Kemeny-Young consensus takes at most {MAX_KEMENY_CANDIDATES} candidates")
    # beats[i][S]: preferences for i over the members of S, built up one lowest member at a time.
    beats = []
    for i in range(n):
        row = [0] * (1 << n)
        for subset in range(1, 1 << n):
            low = subset & -subset
            row[subset] = row[subset ^ low] + wins[i][low.bit_length() - 1]
        beats.append(row)
    # cost[S]: the fewest disagreements among the members of S when they are ordered alone. Put i last
    # in S: it goes against every preference for i over the others of S.
    cost = [0] * (1 << n)
    for subset in range(1, 1 << n):
        cost[subset] = min(
            cost[subset ^ (1 << i)] + beats[i][subset ^ (1 << i)] for i in range(n) if subset >> i & 1
        )

    def opens(i: int, left: int) -> bool:
        """Whether an optimal order of `left` can start with i (against every preference for the rest)."""
        rest = left ^ (1 << i)
        return cost[rest] + sum(wins[j][i] for j in range(n) if rest >> j & 1) == cost[left]

    # From the top: take the first candidate that an optimal order of what is left can start with.
    order: list[int] = []
    left = (1 << n) - 1
    while left:
        first = next(i for i in range(n) if left >> i & 1 and opens(i, left))
        order.append(first)
        left ^= 1 << first
    return order


def _majority_order(wins: Sequence[Sequence[int]]) -> list[int] | None:
    """The Kemeny-optimal order when no pairwise majority contradicts another (else None).

    If some order puts every majority winner above its loser, it has the least possible disagreement
    on every pair, so the optimal orders are exactly those orders. The first of them is the one that
    always takes the first candidate no remaining candidate beats. A majority cycle leaves none to
    take, and the dynamic program decides.
    """
    n = len(wins)
    left = list(range(n))
    order: list[int] = []
    while left:
        unbeaten = next((i for i in left if all(wins[j][i] <= wins[i][j] for j in left)), None)
        if unbeaten is None:
            return None
        order.append(unbeaten)
        left.remove(unbeaten)
    return order


def _tiers_of(order: Sequence[int], wins: Sequence[Sequence[int]]) -> list[list[int]]:
    """Cut an order into tiers: a candidate joins the tier above when it ties every member of it."""
    tiers: list[list[int]] = []
    for i in order:
        if tiers and all(wins[i][j] == wins[j][i] for j in tiers[-1]):
            tiers[-1].append(i)
        else:
            tiers.append([i])
    return tiers
