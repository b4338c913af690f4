import pytest

from curation.quality.agreement import (
    PairCounts,
    kendall_tau_b,
    krippendorff_alpha,
    pair_agreement,
    project_agreement,
    ranking_tau,
)
from labeling.models import Task
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from tests.factories import seed_rankings

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 observers x 12 units example
# with missing values; the paper gives alpha = 0.743 (nominal), 0.815 (ordinal), 0.849 (interval).
_ = None
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
]


def _units(observers: list[list[int | None]]) -> list[list[int]]:
    return [[v for v in unit if v is not None] for unit in zip(*observers, strict=True)]


@pytest.mark.parametrize(
    ("metric", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_krippendorff_alpha_matches_the_published_example(metric, expected):
    assert krippendorff_alpha(_units(KRIPPENDORFF_2011), metric) == pytest.approx(expected, abs=5e-4)


def test_krippendorff_alpha_is_one_for_perfect_agreement_and_none_without_variation():
    assert krippendorff_alpha([[1, 1], [5, 5], [7, 7, 7]], "interval") == 1.0
    assert krippendorff_alpha([[3, 3], [3, 3]], "interval") is None
    assert krippendorff_alpha([[4], [2]], "interval") is None  # no unit has two values


def test_krippendorff_alpha_below_zero_for_systematic_disagreement():
    # coder A: 1,7 ; coder B: 7,1 -> observed disagreement exceeds what chance predicts
    assert krippendorff_alpha([[1, 7], [7, 1]], "interval") < 0


def test_kendall_tau_b_corrects_for_ties():
    # 4 concordant pairs, one tied only in x, one tied only in y: 4 / sqrt(5 * 5)
    assert kendall_tau_b([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(0.8)
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau_b([1, 1, 1], [1, 2, 3]) is None


def test_pair_agreement_counts_same_and_opposite_orders_and_leaves_out_ties():
    a = [[1], [2], [3], [4]]
    b = [[2], [1], [3, 4]]
    # pairs: (1,2) opposite; (1,3) (1,4) (2,3) (2,4) same; (3,4) tied by b
    assert pair_agreement(a, b) == PairCounts(agree=4, disagree=1, tied=1)
    assert pair_agreement(a, b).share == pytest.approx(0.8)
    assert pair_agreement([[1, 2]], [[2], [1]]) == PairCounts(agree=0, disagree=0, tied=1)
    assert pair_agreement([[1, 2]], [[2], [1]]).share is None


def test_ranking_tau_of_a_ranking_and_its_reverse_is_minus_one():
    assert ranking_tau([[1], [2], [3]], [[3], [2], [1]]) == pytest.approx(-1.0)
    assert ranking_tau([[1], [2], [3]], [[1], [2], [3]]) == pytest.approx(1.0)


def _rank(project, labeler, order, overall=None):
    """The labeler ranks every task they get: `order` maps the task's sorted candidate ids to tiers."""
    while (assignment := claim_next_task(project=project, labeler=labeler)) is not None:
        ids = sorted(Task.objects.get(pk=assignment.task_id).candidate_ids)
        tiers = order(ids)
        ratings = None
        if overall is not None:
            ratings = [{"candidate": cid, "overall": overall(i)} for i, cid in enumerate(ids)]
        ranking_submit(assignment_id=assignment.pk, labeler=labeler, tiers=tiers, ratings=ratings)


def test_project_agreement_per_project_and_per_labeler(make_project, add_member):
    project = make_project(overlap=3, k=4)
    seed_rankings(project, 2)
    ann, bob, cy = (add_member(project, name) for name in ("ann", "bob", "cy"))
    _rank(project, ann, lambda ids: [[c] for c in ids], overall=lambda i: 7 - i)
    _rank(project, bob, lambda ids: [[c] for c in ids], overall=lambda i: 7 - i)
    _rank(project, cy, lambda ids: [[c] for c in reversed(ids)], overall=lambda i: 1 + i)

    report = project_agreement(project=project, metric="interval")

    # per task: ann-bob agree on all 6 pairs, each of them disagrees with cy on all 6
    assert report.tasks_compared == 2
    assert report.pairs == PairCounts(agree=12, disagree=24, tied=0)
    assert report.pairs.share == pytest.approx(1 / 3)
    assert report.task_shares == [pytest.approx(1 / 3)] * 2
    assert report.mean_tau == pytest.approx((1 - 1 - 1) / 3)
    by_name = {row.username: row for row in report.labelers}
    assert by_name["ann"].pairs.share == pytest.approx(0.5)
    assert by_name["cy"].pairs.share == 0.0
    assert by_name["cy"].consensus_pairs == PairCounts(agree=0, disagree=12, tied=0)
    assert by_name["ann"].consensus_pairs == PairCounts(agree=0, disagree=0, tied=12)  # bob + cy: all tied
    assert report.labeler_pairs[("ann", "bob")].share == 1.0
    assert report.rated_candidates == 8
    assert report.alpha is not None and report.alpha < 0
    assert by_name["cy"].alpha_without == 1.0  # without cy, ann and bob rate identically


def test_agreement_with_consensus_uses_kemeny_young(make_project, add_member):
    # Four labelers rank 1 > 2 > 3 > 4 and two rank 2 > 3 > 4 > 1. Leave one of the four out: the
    # others are three to two, and 1 beats every answer three to two, so their consensus is 1 > 2 > 3 > 4
    # (the mean rank would put 2 first and count one of the six pairs as a disagreement).
    project = make_project(overlap=6, k=4)
    seed_rankings(project, 1)
    for name in ("ann", "bob", "cy", "dan"):
        _rank(project, add_member(project, name), lambda ids: [[c] for c in ids])
    for name in ("eve", "fay"):
        _rank(project, add_member(project, name), lambda ids: [[c] for c in [*ids[1:], ids[0]]])

    report = project_agreement(project=project)

    assert report.consensus_rule == "kemeny_young"
    by_name = {row.username: row for row in report.labelers}
    assert by_name["ann"].consensus_pairs == PairCounts(agree=6, disagree=0, tied=0)
    assert by_name["eve"].consensus_pairs == PairCounts(agree=3, disagree=3, tied=0)
    by_mean = {
        row.username: row for row in project_agreement(project=project, consensus_rule="mean_rank").labelers
    }
    assert by_mean["ann"].consensus_pairs == PairCounts(agree=5, disagree=1, tied=0)
