"""A practice set's held-out split by problem: seeded, stored with the set, the same on every reading."""

import pytest

from core.errors import DomainError
from curation.models import PracticeProblem, PracticeSet
from curation.practice import practice_set_upload, problem_split, split_counts
from tests.factories import jsonl

PROBLEMS = [
    {"problem": f"What is {a} plus {a + 7}?", "answer": str(2 * a + 7), "verifier": "numeric"}
    for a in range(40)
]


def _upload(project, admin, name, rows=PROBLEMS, **split):
    return practice_set_upload(project=project, name=name, stream=jsonl(rows), uploaded_by=admin, **split)


def _splits(practice_set: PracticeSet) -> dict[str, str]:
    return dict(PracticeProblem.objects.filter(practice_set=practice_set).values_list("problem", "split"))


def test_the_split_is_stored_with_the_set_and_follows_from_the_seed_and_the_problem(project, admin):
    first = _upload(project, admin, "sums", seed=7, validation_fraction=0.25)

    stored = _splits(PracticeSet.objects.get(pk=first.pk))
    assert stored == {
        row["problem"]: problem_split(row["problem"], seed=7, validation_fraction=0.25) for row in PROBLEMS
    }
    counts = split_counts(first)
    assert counts["train"] + counts["validation"] == 40 and 0 < counts["validation"] < 20
    assert (first.split_seed, first.validation_fraction) == (7, 0.25)

    again = _upload(project, admin, "sums again", seed=7, validation_fraction=0.25)
    assert _splits(again) == stored  # the same file and seed: the same split
    other_seed = _upload(project, admin, "sums, seed 8", seed=8, validation_fraction=0.25)
    assert _splits(other_seed) != stored


def test_copies_of_a_problem_share_a_split(project, admin):
    rows = [
        {"problem": "What is the capital of Peru?", "answer": "Lima"},
        {"problem": "what is the capital of peru", "answer": "Lima"},
        {"problem": "WHAT IS THE CAPITAL OF PERU ?!", "answer": "Lima"},
    ]
    for seed in range(20):
        splits = set(
            _splits(
                _upload(project, admin, f"peru {seed}", rows, seed=seed, validation_fraction=0.5)
            ).values()
        )
        assert len(splits) == 1


def test_a_set_uploaded_without_a_split_holds_out_a_tenth_with_seed_0(project, admin):
    practice_set = _upload(project, admin, "defaults")
    assert (practice_set.split_seed, practice_set.validation_fraction) == (0, 0.1)
    assert _splits(practice_set) == {
        row["problem"]: problem_split(row["problem"], seed=0, validation_fraction=0.1) for row in PROBLEMS
    }
    assert set(_splits(_upload(project, admin, "all train", validation_fraction=0)).values()) == {"train"}


@pytest.mark.parametrize(
    ("split", "field"),
    [
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"validation_fraction": -0.1}, "validation_fraction"),
        ({"validation_fraction": "0.2"}, "validation_fraction"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**63}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_a_bad_seed_or_fraction_is_refused_by_name_and_stores_nothing(project, admin, split, field):
    with pytest.raises(DomainError) as refused:
        _upload(project, admin, "bad", **split)
    assert refused.value.field == field
    assert not PracticeSet.objects.exists()
