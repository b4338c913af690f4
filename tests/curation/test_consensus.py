from fractions import Fraction
from itertools import pairwise, permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.quality.consensus import (
    KEMENY_YOUNG,
    MEAN_RANK,
    RankingsDisagreeOnCandidates,
    consensus_ranking,
    kemeny_order,
    kemeny_order_by_subsets,
    preference_counts,
    tier_ranks,
)


def test_a_tie_ranks_its_members_at_the_mean_of_their_positions():
    assert tier_ranks([[7], [3, 5], [9]]) == {7: 1, 3: Fraction(5, 2), 5: Fraction(5, 2), 9: 4}


@pytest.mark.parametrize("rule", [KEMENY_YOUNG, MEAN_RANK])
def test_one_labeler_is_their_own_consensus_ties_included(rule):
    tiers = [[4], [2, 9], [1]]
    assert consensus_ranking([tiers], rule=rule).tiers == [[4], [2, 9], [1]]


@pytest.mark.parametrize("rule", [KEMENY_YOUNG, MEAN_RANK])
def test_the_majority_order_wins(rule):
    rankings = [[[1], [2], [3]], [[1], [2], [3]], [[2], [1], [3]]]
    result = consensus_ranking(rankings, rule=rule)
    assert result.tiers == [[1], [2], [3]] and result.rankings == 3 and result.rule == rule
    assert result.mean_ranks[1] == Fraction(4, 3)


@pytest.mark.parametrize("rule", [KEMENY_YOUNG, MEAN_RANK])
def test_exactly_opposed_labelers_produce_a_tie(rule):
    assert consensus_ranking([[[1], [2]], [[2], [1]]], rule=rule).tiers == [[1, 2]]


def test_rankings_must_order_the_same_candidates():
    with pytest.raises(RankingsDisagreeOnCandidates):
        consensus_ranking([[[1], [2]], [[1], [3]]])


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="unknown consensus rule"):
        consensus_ranking([[[1], [2]]], rule="majority")  # type: ignore[arg-type]


THREE_VS_TWO = [[[1], [2], [3], [4]]] * 3 + [[[2], [3], [4], [1]]] * 2


def test_the_answer_a_majority_prefers_to_every_other_comes_first():
    # 1 beats 2, 3 and 4 three labelers to two; the mean rank puts 2 first (1.6 against 2.2).
    result = consensus_ranking(THREE_VS_TWO)
    assert result.rule == KEMENY_YOUNG and result.tiers == [[1], [2], [3], [4]]
    assert result.disagreements == 6  # the two labelers who put 1 last, once against each of 2, 3, 4
    assert consensus_ranking(THREE_VS_TWO, rule=MEAN_RANK).tiers == [[2], [1], [3], [4]]


def test_kemeny_young_is_the_default_rule():
    assert consensus_ranking(THREE_VS_TWO).tiers == consensus_ranking(THREE_VS_TWO, rule=KEMENY_YOUNG).tiers


def test_a_majority_cycle_is_broken_by_mean_rank_then_candidate_id():
    # 1 > 2, 2 > 3 and 3 > 1, each two to one: 1 2 3, 2 3 1 and 3 1 2 all go against 4 preferences,
    # every mean rank is 2, so the lowest id comes first; each neighbour is separated by a majority.
    cycle = [[[1], [2], [3]], [[2], [3], [1]], [[3], [1], [2]]]
    result = consensus_ranking(cycle)
    assert result.tiers == [[1], [2], [3]] and result.disagreements == 4
    assert consensus_ranking([cycle[1], cycle[2], cycle[0]]).tiers == [[1], [2], [3]]
    # Still a cycle (1 > 2 five to two, 2 > 3 four to three, 3 > 1 five to two), but 3 1 2 goes against
    # only 8 preferences, 1 2 3 and 2 3 1 against 10 each.
    stronger = consensus_ranking([*cycle, *cycle, cycle[2]])
    assert stronger.tiers == [[3], [1], [2]] and stronger.disagreements == 8


def test_ties_in_the_rankings_give_no_preference_either_way():
    # Two labelers tie 1 and 2, one puts 2 first: 2 > 1 by one to none.
    result = consensus_ranking([[[1, 2], [3]], [[1, 2], [3]], [[2], [1], [3]]])
    assert result.tiers == [[2], [1], [3]] and result.disagreements == 0


def test_candidates_the_majority_does_not_separate_share_a_tier():
    # 1 and 2: one labeler each way; 3 is last for both.
    assert consensus_ranking([[[1], [2], [3]], [[2], [1], [3]]]).tiers == [[1, 2], [3]]
    # 1 ~ 2 and 2 ~ 3 tie, but 1 beats 3 two to none: 3 does not join the tier of 1 and 2.
    assert consensus_ranking([[[1], [3], [2]], [[2], [1], [3]]]).tiers == [[1, 2], [3]]


def test_the_consensus_is_deterministic_whatever_the_order_of_labelers_and_of_tie_members():
    rankings = [[[5], [3, 8], [1]], [[8], [1], [5], [3]], [[3], [5, 1], [8]], [[1, 8], [3], [5]]]
    first = consensus_ranking(rankings)
    for shuffled in permutations(rankings):
        again = consensus_ranking([[sorted(t, reverse=True) for t in tiers] for tiers in shuffled])
        assert again.tiers == first.tiers and again.disagreements == first.disagreements


# --- against brute force ---------------------------------------------------------------------------


@st.composite
def profiles(draw: st.DrawFn) -> list[list[list[int]]]:
    """1..7 rankings of the same 2..6 candidates, each with random ties."""
    k = draw(st.integers(2, 6))
    candidates = draw(st.lists(st.integers(1, 99), min_size=k, max_size=k, unique=True))
    rankings = []
    for _ in range(draw(st.integers(1, 7))):
        order = draw(st.permutations(candidates))
        cuts = draw(st.lists(st.booleans(), min_size=k - 1, max_size=k - 1))
        tiers = [[order[0]]]
        for candidate, cut in zip(order[1:], cuts, strict=True):
            if cut:
                tiers.append([candidate])
            else:
                tiers[-1].append(candidate)
        rankings.append(tiers)
    return rankings


def _against(order: tuple[int, ...], rankings: list[list[list[int]]]) -> int:
    """Labeler preferences an order goes against: pairs a labeler puts strictly the other way."""
    total = 0
    for tiers in rankings:
        tier_of = {c: t for t, tier in enumerate(tiers) for c in tier}
        total += sum(
            tier_of[later] < tier_of[earlier] for i, earlier in enumerate(order) for later in order[i + 1 :]
        )
    return total


@settings(derandomize=True, max_examples=300, deadline=None)
@given(profiles())
def test_the_consensus_order_is_kemeny_optimal_and_the_first_optimal_one_by_mean_rank_then_id(rankings):
    candidates = sorted(c for tier in rankings[0] for c in tier)
    scores = {order: _against(order, rankings) for order in permutations(candidates)}
    best = min(scores.values())
    mean = {c: sum(tier_ranks(t)[c] for t in rankings) / len(rankings) for c in candidates}
    first_best = min(
        (order for order, score in scores.items() if score == best),
        key=lambda order: [(mean[c], c) for c in order],
    )

    result = consensus_ranking(rankings)

    assert result.disagreements == best
    assert tuple(c for tier in result.tiers for c in tier) == first_best
    by_mean = sorted(candidates, key=lambda c: (mean[c], c))
    wins = preference_counts([tier_ranks(t) for t in rankings], by_mean)
    assert kemeny_order_by_subsets(wins) == kemeny_order(wins) == [by_mean.index(c) for c in first_best]
    for upper, lower in pairwise(result.tiers):  # neighbouring tiers: a majority between
        assert any(_against((a, b), rankings) != _against((b, a), rankings) for a in upper for b in lower)
    for tier in result.tiers:  # inside a tier: no majority either way
        assert all(_against((a, b), rankings) == _against((b, a), rankings) for a in tier for b in tier)
