"""The A/B leaderboard's figures on a fixed vote set, checked against fits computed here independently."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import binomtest

from curation.quality.leaderboard import ELO_SCALE, Vote, leaderboard

# Four versions, 192 votes: version 3 is best, 2 next, 1 and 4 close; 1 is the baseline (lowest id).
# Every comparison appears on both sides, and each count was chosen by hand (no random generator).
OUTCOMES = {
    # (left, right): (left wins, ties, right wins)
    (1, 2): (6, 3, 9),
    (2, 1): (8, 2, 5),
    (1, 3): (4, 2, 12),
    (3, 1): (11, 3, 3),
    (1, 4): (8, 4, 6),
    (4, 1): (7, 2, 8),
    (2, 3): (5, 3, 8),
    (3, 2): (7, 1, 6),
    (2, 4): (9, 2, 5),
    (4, 2): (4, 3, 8),
    (3, 4): (10, 1, 3),
    (4, 3): (3, 2, 9),
}
GROUP = {(1, 2): "chat", (2, 1): "chat", (1, 3): "code", (3, 1): "code"}


def fixed_votes() -> list[Vote]:
    votes = []
    for (left, right), (left_wins, ties, right_wins) in OUTCOMES.items():
        group = GROUP.get((left, right), "other")
        votes += [Vote(left, right, "left", group)] * left_wins
        votes += [Vote(left, right, "tie", group)] * ties
        votes += [Vote(left, right, "right", group)] * right_wins
    return votes


def direct_fit(votes: list[Vote], versions: list[int]) -> np.ndarray:
    """Maximum likelihood with scipy: ties as half a win each way, one virtual tie per version at θ = 0."""
    index = {v: i for i, v in enumerate(versions)}
    wins = np.zeros((len(versions), len(versions)))
    for vote in votes:
        i, j = index[vote.left], index[vote.right]
        if vote.choice == "left":
            wins[i, j] += 1
        elif vote.choice == "right":
            wins[j, i] += 1
        else:
            wins[i, j] += 0.5
            wins[j, i] += 0.5

    def negative_log_likelihood(theta: np.ndarray) -> float:
        log_p = -np.logaddexp(0, -(theta[:, None] - theta[None, :]))
        prior = 0.5 * (-np.logaddexp(0, -theta) - np.logaddexp(0, theta)).sum()
        return -float((wins * log_p).sum() + prior)

    def gradient(theta: np.ndarray) -> np.ndarray:
        lose = 1 / (1 + np.exp(theta[:, None] - theta[None, :]))  # σ(θ_j − θ_i): i loses to j
        return -((wins * lose).sum(axis=1) - (wins.T * lose.T).sum(axis=1) + 0.5 - 1 / (1 + np.exp(-theta)))

    found = minimize(negative_log_likelihood, np.zeros(len(versions)), jac=gradient, method="BFGS")
    assert np.abs(gradient(found.x)).max() < 1e-5, found.message
    return found.x - found.x.mean()


def test_the_ratings_are_the_bradley_terry_maximum_likelihood_fit():
    votes = fixed_votes()
    board = leaderboard(votes, rounds=200)

    theta = direct_fit(votes, [1, 2, 3, 4])
    expected = {v: 1000 + ELO_SCALE * t for v, t in zip([1, 2, 3, 4], theta, strict=True)}
    got = {s.version: s.rating for s in board.scores}
    assert got == pytest.approx(expected, abs=1e-3)
    assert board.versions == sorted(expected, key=lambda v: -expected[v]) == [3, 2, 1, 4]
    assert board.baseline == 1 and board.votes == len(votes) == 192
    chance = {s.version: s.win_vs_baseline for s in board.scores}
    assert chance[3] == pytest.approx(1 / (1 + math.exp(-(theta[2] - theta[0]))), abs=1e-6)
    assert chance[1] is None


def test_the_intervals_are_percentile_bootstrap_intervals_of_the_refitted_ratings():
    votes = fixed_votes()
    board = leaderboard(votes, rounds=1000, seed=7)

    # an independent bootstrap: resample the votes themselves and refit with scipy, 300 times
    rng = np.random.default_rng(2024)
    refits = np.array(
        [
            direct_fit([votes[i] for i in rng.integers(0, len(votes), len(votes))], [1, 2, 3, 4])
            for _ in range(300)
        ]
    )
    low, high = np.percentile(1000 + ELO_SCALE * refits, [2.5, 97.5], axis=0)
    for score in board.scores:
        i = score.version - 1
        assert score.low < score.rating < score.high
        # two Monte Carlo estimates of the same interval: they agree to within the noise of 300 resamples
        assert score.low == pytest.approx(low[i], abs=18) and score.high == pytest.approx(high[i], abs=18)
        assert 60 < score.high - score.low < 220
    again = leaderboard(votes, rounds=1000, seed=7)
    assert [(s.low, s.high) for s in again.scores] == [(s.low, s.high) for s in board.scores]  # seeded


def test_win_tie_loss_against_the_baseline_counts_both_sides_and_each_group():
    board = leaderboard(fixed_votes(), baseline=3, rounds=10)

    records = {r.version: (r.wins, r.ties, r.losses) for r in board.records}
    # version 1 against 3: (1,3) left wins 4, ties 2, right 12; (3,1) left 11, ties 3, right 3
    assert records[1] == (4 + 3, 2 + 3, 12 + 11)
    assert records[2] == (5 + 6, 3 + 1, 8 + 7)
    assert records[4] == (3 + 3, 1 + 2, 10 + 9)
    assert 3 not in records
    assert [r.version for r in board.records] == [2, 1, 4]  # in score order, the baseline left out
    assert board.records[0].rate("wins") == pytest.approx(11 / 30)
    assert board.records[0].rate("losses") == pytest.approx(15 / 30)
    groups = {name: {r.version: (r.wins, r.ties, r.losses) for r in rs} for name, rs in board.groups.items()}
    assert groups["code"] == {1: (7, 5, 23)}
    assert groups["chat"] == {}  # no vote of 3 in it
    assert groups["other"] == {2: (11, 4, 15), 4: (6, 3, 19)}


def test_the_position_bias_check_is_the_left_share_of_decided_votes_with_a_wilson_interval():
    votes = fixed_votes()
    board = leaderboard(votes, rounds=10)

    left = sum(w for w, _, _ in OUTCOMES.values())
    right = sum(r for _, _, r in OUTCOMES.values())
    ties = sum(t for _, t, _ in OUTCOMES.values())
    wilson = binomtest(left, left + right).proportion_ci(confidence_level=0.95, method="wilson")
    position = board.position
    assert (position.left_wins, position.right_wins, position.ties) == (left, right, ties)
    assert position.left_share == pytest.approx(left / (left + right))
    assert position.interval == pytest.approx((wilson.low, wilson.high), abs=1e-9)
    assert position.biased is False

    leaning = votes + [Vote(1, 2, "left")] * 120  # the left answer wins far more often than chance
    assert leaderboard(leaning, rounds=10).position.biased is True


def test_a_version_that_won_every_vote_gets_a_finite_rating_and_no_votes_give_an_empty_board():
    board = leaderboard([Vote(1, 2, "left")] * 30 + [Vote(2, 1, "right")] * 30, rounds=50)
    ratings = {s.version: s.rating for s in board.scores}
    assert math.isfinite(ratings[1]) and ratings[1] > 1400 > 600 > ratings[2]

    empty = leaderboard([], rounds=50)
    assert (empty.votes, empty.scores, empty.baseline, empty.position.interval) == (0, [], None, None)
