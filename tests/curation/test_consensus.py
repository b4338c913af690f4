from fractions import Fraction

import pytest

from curation.quality.consensus import RankingsDisagreeOnCandidates, consensus_ranking, tier_ranks


def test_a_tie_ranks_its_members_at_the_mean_of_their_positions():
    assert tier_ranks([[7], [3, 5], [9]]) == {7: 1, 3: Fraction(5, 2), 5: Fraction(5, 2), 9: 4}


def test_one_labeler_is_their_own_consensus_ties_included():
    tiers = [[4], [2, 9], [1]]
    assert consensus_ranking([tiers]).tiers == [[4], [2, 9], [1]]


def test_the_majority_order_wins():
    rankings = [[[1], [2], [3]], [[1], [2], [3]], [[2], [1], [3]]]
    result = consensus_ranking(rankings)
    assert result.tiers == [[1], [2], [3]] and result.rankings == 3
    assert result.mean_ranks[1] == Fraction(4, 3)


def test_exactly_opposed_labelers_produce_a_tie():
    assert consensus_ranking([[[1], [2]], [[2], [1]]]).tiers == [[1, 2]]


def test_rankings_must_order_the_same_candidates():
    with pytest.raises(RankingsDisagreeOnCandidates):
        consensus_ranking([[[1], [2]], [[1], [3]]])
