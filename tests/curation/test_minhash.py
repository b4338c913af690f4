"""Exact and near-duplicate detection on texts, without the database."""

import numpy as np
import pytest

from curation.cleaning.minhash import (
    MinHashConfig,
    MinHasher,
    candidate_probability,
    connected_components,
    deduplicate,
    exact_duplicate_clusters,
    jaccard,
    lsh_bands,
    near_duplicate_clusters,
    normalize_text,
    normalized_text_hash,
    words,
)

BASE = (
    "the quick brown fox jumps over the lazy dog while the farmer counts sheep in the green valley "
    "and the river runs down to the sea past the old mill where children play every summer afternoon"
)


def _distinct(i: int, length: int = 40) -> str:
    rng = np.random.default_rng(i)
    return " ".join(f"w{n}" for n in rng.integers(0, 100_000, size=length))


def test_texts_differing_in_case_spacing_and_punctuation_share_a_hash():
    assert normalized_text_hash("Hello,   World!") == normalized_text_hash("hello world")
    assert normalized_text_hash("2+2=4") != normalized_text_hash("2-2=4")
    assert normalize_text("Ｆｕｌｌ width — «quoted»") == "full width quoted"


def test_ascii_and_unicode_tokenizers_agree():
    assert words("Don't STOP_me, now 42x!") == ["don", "t", "stop_me", "now", "42x"]
    assert words("Ｄon't stop — naïve") == ["don", "t", "stop", "naïve"]


def test_exact_clusters_keep_the_first_and_list_the_rest():
    texts = ["A b c.", "x y z", "a B c", "a b c!!"]
    (cluster,) = exact_duplicate_clusters(texts, ids=[10, 11, 12, 13])
    assert cluster.kept == 10
    assert cluster.duplicates == (12, 13)


def test_longest_keep_rule_keeps_the_longest_member():
    texts = ["a b c", "x", "A, b, c!!!"]
    (cluster,) = exact_duplicate_clusters(texts, keep="longest")
    assert cluster.kept == 2


def test_signatures_are_deterministic_and_estimate_jaccard():
    hasher = MinHasher(MinHashConfig(num_perm=256))
    edited = BASE.replace("farmer", "baker")
    first, second = (
        hasher.sketch([BASE, edited]),
        MinHasher(MinHashConfig(num_perm=256)).sketch([BASE, edited]),
    )
    assert np.array_equal(first, second)
    true = jaccard(*hasher.shingle_sets([BASE, edited]))
    assert abs(float(np.mean(first[0] == first[1])) - true) < 0.12


def test_empty_documents_never_pair():
    result = near_duplicate_clusters(["", "", BASE])
    assert result.clusters == []


def test_one_word_edit_is_a_near_duplicate_and_unrelated_texts_are_not():
    texts = [BASE, _distinct(1), BASE.replace("farmer", "baker"), _distinct(2)]
    result = near_duplicate_clusters(texts, ids=["a", "b", "c", "d"], config=MinHashConfig(threshold=0.7))
    assert [c.members for c in result.clusters] == [("a", "c")]
    (pair,) = result.pairs
    assert 0.7 <= pair.jaccard < 1.0


def test_pairs_below_the_threshold_are_not_confirmed():
    half = " ".join(BASE.split()[:18]) + " " + _distinct(3, 18)
    result = near_duplicate_clusters([BASE, half], config=MinHashConfig(threshold=0.8))
    assert result.clusters == []


def test_recall_on_many_injected_near_duplicates():
    rng = np.random.default_rng(7)
    texts = [_distinct(i, 60) for i in range(400)]
    pairs = set()
    for i in range(0, 400, 10):
        tokens = texts[i].split()
        tokens[int(rng.integers(0, 60))] = "changed"
        texts.append(" ".join(tokens))
        pairs.add((i, len(texts) - 1))
    result = near_duplicate_clusters(texts, config=MinHashConfig(threshold=0.8))
    found = {(p.a, p.b) for p in result.pairs}
    assert found == pairs


def test_deduplicate_merges_exact_and_near_clusters():
    texts = [BASE, BASE.upper(), BASE.replace("farmer", "baker"), _distinct(4)]
    result = deduplicate(texts, ids=[1, 2, 3, 4], config=MinHashConfig(threshold=0.7))
    (cluster,) = result.clusters
    assert cluster.members == (1, 2, 3)
    assert result.duplicate_ids() == {2, 3}


def test_lsh_split_reaches_the_requested_candidate_probability():
    bands, rows = lsh_bands(0.8, 128, 0.98)
    assert bands * rows <= 128
    assert candidate_probability(0.8, bands, rows) >= 0.98
    assert candidate_probability(0.3, bands, rows) < 0.01


def test_connected_components_join_chains():
    assert connected_components(6, [(0, 1), (1, 2), (4, 5)]) == [[0, 1, 2], [4, 5]]
    with pytest.raises(ValueError):
        connected_components(2, [(0, 2)])


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        MinHashConfig(threshold=0)
    with pytest.raises(ValueError):
        MinHashConfig(ngram=0)
