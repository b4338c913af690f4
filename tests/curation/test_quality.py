"""Gopher/C4-style quality flags: each failed check names its value, its limit and why."""

import json

import pytest

from curation.cleaning.text_quality import (
    QualityThresholds,
    duplicate_ngram_char_fraction,
    quality_flags,
    top_ngram_char_fraction,
)

GOOD = (
    "The committee met on Tuesday to review the budget for the coming year. Members agreed that the "
    "library should have longer opening hours, and that the park needs new benches before summer. "
    "The treasurer explained how the money would be raised, and several residents asked questions "
    "about the cost of repairs to the bridge. After a short debate, the proposal was approved with "
    "a large majority, and the next meeting was set for the first week of March."
)


def names(text: str, thresholds: QualityThresholds | None = None) -> set[str]:
    return {flag.name for flag in quality_flags(text, thresholds)}


def test_ordinary_prose_passes_every_default_check():
    assert quality_flags(GOOD) == []


def test_short_text_is_flagged_with_value_limit_and_explanation():
    (flag,) = [f for f in quality_flags("Too short to keep.") if f.name == "too_few_words"]
    assert (flag.value, flag.threshold) == (4.0, 50.0)
    assert flag.explanation == "word count is 4, below the minimum 50"


def test_hash_heavy_text_is_flagged():
    assert "hash_symbols" in names(GOOD + " #tag" * 20)


def test_repeated_lines_are_flagged():
    text = "\n".join([GOOD] + ["Buy now and save big on everything today."] * 6)
    assert {"duplicate_lines", "duplicate_line_chars"} <= names(text)


def test_repeated_ngrams_are_measured_without_double_counting():
    words = "a b a b a b".split()
    assert top_ngram_char_fraction(words, 2) == 1.0
    assert duplicate_ngram_char_fraction("x y z x y z".split(), 3) == 0.5
    assert duplicate_ngram_char_fraction("one two three four".split(), 2) == 0.0


def test_a_threshold_set_to_none_switches_its_check_off():
    thresholds = QualityThresholds(min_words=None, min_stop_words=None)
    assert names("Too short to keep.", thresholds) == set()


def test_lorem_ipsum_and_optional_curly_brace_rules():
    assert "lorem_ipsum" in names(GOOD + " Lorem ipsum dolor sit amet.")
    assert "curly_brace" not in names(GOOD + " {x}")
    assert "curly_brace" in names(GOOD + " {x}", QualityThresholds(flag_curly_brace=True))


def test_thresholds_survive_a_json_round_trip():
    thresholds = QualityThresholds(min_words=3, max_top_ngram_char_fraction={2: 0.5})
    loaded = QualityThresholds.from_dict(json.loads(json.dumps(thresholds.to_dict())))
    assert loaded == thresholds


def test_unknown_threshold_names_are_refused():
    with pytest.raises(ValueError, match="unknown quality thresholds"):
        QualityThresholds.from_dict({"min_wrds": 3})
