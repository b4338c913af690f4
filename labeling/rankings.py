"""Comparing rankings (tiers of candidate ids, best first, ties allowed): each candidate's rank and
whether two rankings order a pair of candidates the same way. The review pages show these per task;
curation's agreement figures sum them over a project."""

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations

Tiers = Sequence[Sequence[int]]


def tier_ranks(tiers: Tiers) -> dict[int, Fraction]:
    """Rank of each candidate in one ranking: the mean of the positions its tier occupies (1-based)."""
    ranks: dict[int, Fraction] = {}
    position = 1
    for tier in tiers:
        # positions position .. position+len-1; their mean:
        mean = Fraction(2 * position + len(tier) - 1, 2)
        for candidate in tier:
            ranks[candidate] = mean
        position += len(tier)
    return ranks


@dataclass(frozen=True)
class PairCounts:
    agree: int = 0
    disagree: int = 0
    tied: int = 0  # pairs both labelers saw that at least one of them left tied

    @property
    def compared(self) -> int:
        return self.agree + self.disagree

    @property
    def share(self) -> float | None:
        return self.agree / self.compared if self.compared else None

    def __add__(self, other: "PairCounts") -> "PairCounts":
        return PairCounts(self.agree + other.agree, self.disagree + other.disagree, self.tied + other.tied)


def pair_agreement(a: Tiers, b: Tiers) -> PairCounts:
    """Candidate pairs two rankings order the same way, the opposite way, or that either leaves tied."""
    rank_a, rank_b = tier_ranks(a), tier_ranks(b)
    agree = disagree = tied = 0
    for x, y in combinations(sorted(set(rank_a) & set(rank_b)), 2):
        da, db = rank_a[x] - rank_a[y], rank_b[x] - rank_b[y]
        if da == 0 or db == 0:
            tied += 1
        elif (da > 0) == (db > 0):
            agree += 1
        else:
            disagree += 1
    return PairCounts(agree, disagree, tied)


def rankings_agreement(rankings: Sequence[Tiers]) -> PairCounts:
    """Pair counts summed over every two of the rankings (of one task)."""
    total = PairCounts()
    for a, b in combinations(rankings, 2):
        total += pair_agreement(a, b)
    return total
