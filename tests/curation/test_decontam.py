"""Decontamination against an evaluation set: shared word runs of 13 (long) or 8 (short) words."""

import pytest

from curation.cleaning.decontam import DecontamConfig, EvalIndex

EVAL = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?",
    "What is the capital of Australia?",
]
FILLER = " ".join(f"filler{i}" for i in range(60))


def test_a_short_prompt_sharing_eight_words_is_contaminated():
    index = EvalIndex(EVAL, keys=["gsm8k-1", "geo-7"])
    found = index.check("Please answer: how many clips did Natalia sell altogether in total? Thanks")
    assert found is not None
    assert (found.eval_key, found.ngram) == ("gsm8k-1", 8)
    assert found.matched == "how many clips did natalia sell altogether in"
    assert "word 8-grams" in found.explanation


def test_seven_shared_words_are_not_enough_for_a_short_prompt():
    index = EvalIndex(EVAL)
    assert index.check("Tell me: how many clips did Natalia sell in total please") is None


def test_long_text_needs_a_thirteen_word_run():
    index = EvalIndex(EVAL)
    eight = "then she sold half as many clips in May"
    assert index.check(f"{FILLER} {eight} {FILLER}") is None
    thirteen = "of her friends in April, and then she sold half as many clips"
    found = index.check(f"{FILLER} {thirteen} {FILLER}")
    assert found is not None and found.ngram == 13 and found.shared_ngrams == 1


def test_very_short_prompts_match_only_the_whole_text():
    index = EvalIndex(EVAL, keys=["gsm8k-1", "geo-7"])
    found = index.check("what is the CAPITAL of australia")
    assert found is not None and (found.eval_key, found.ngram) == ("geo-7", 0)
    assert index.check("What is the capital?") is None


def test_an_eval_set_of_only_short_texts_still_checks_long_prompts():
    index = EvalIndex(["What is 2+2?"])
    assert index.check(FILLER) is None
    assert index.check("WHAT is 2+2") is not None


def test_the_n_grams_are_configurable():
    index = EvalIndex(EVAL, config=DecontamConfig(short_ngram=4, long_ngram=6))
    assert index.check("Do you know the capital of Australia by heart?") is not None


def test_unrelated_text_and_empty_text_are_clean():
    index = EvalIndex(EVAL)
    assert index.check("Write a poem about the sea at night, with rhymes and a sad ending.") is None
    assert index.check("") is None


def test_config_rejects_a_short_ngram_longer_than_the_long_one():
    with pytest.raises(ValueError):
        DecontamConfig(short_ngram=14, long_ngram=13)
