"""One ranking from several labelers' rankings of the same candidates: mean rank (Borda with ties).

Each labeler gives every candidate a rank: the mean position of its tier (a tie of the 2nd and 3rd
answers ranks both 2.5). The consensus orders candidates by their mean rank over labelers; equal
mean ranks (exact fractions, no float noise) share a tier. With one labeler the consensus is that
labeler's ranking, ties included.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


class RankingsDisagreeOnCandidates(ValueError):
    pass


@dataclass(frozen=True)
class Consensus:
    tiers: list[list[int]]  # candidate ids, best tier first
    mean_ranks: dict[int, Fraction]  # 1 = best
    rankings: int


def tier_ranks(tiers: Sequence[Sequence[int]]) -> dict[int, Fraction]:
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


def consensus_ranking(rankings: Sequence[Sequence[Sequence[int]]]) -> Consensus:
    """Mean-rank consensus of rankings (each a list of tiers) that order the same candidates."""
    if not rankings:
        raise ValueError("a consensus needs at least one ranking")
    per_ranking = [tier_ranks(tiers) for tiers in rankings]
    candidates = set(per_ranking[0])
    if any(set(ranks) != candidates for ranks in per_ranking[1:]):
        raise RankingsDisagreeOnCandidates("rankings of one task must order the same candidates")
    mean = {c: sum((r[c] for r in per_ranking), Fraction(0)) / len(per_ranking) for c in candidates}
    tiers: list[list[int]] = []
    for candidate in sorted(candidates, key=lambda c: (mean[c], c)):
        if tiers and mean[tiers[-1][0]] == mean[candidate]:
            tiers[-1].append(candidate)
        else:
            tiers.append([candidate])
    return Consensus(tiers=tiers, mean_ranks=mean, rankings=len(per_ranking))
