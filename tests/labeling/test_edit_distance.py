"""Edit distances between a model draft and the reply a labeler made of it, on examples worked by hand."""

import pytest

from labeling.edits import EditDistance, word_tokens


@pytest.mark.parametrize(
    ("draft", "final", "chars", "words"),
    [
        ("kitten", "sitting", 3, 1),  # k→s, e→i, +g; one word replaced
        # 21 characters inserted (", a city on the Seine"); 6 tokens: "," a city on the Seine
        ("The capital of France is Paris.", "The capital of France is Paris, a city on the Seine.", 21, 6),
        # the first and last words swapped: 2 word substitutions; red→blue and blue→red are 4 characters each
        ("red green blue", "blue green red", 8, 2),
        ("café crème", "cafe crème", 1, 1),  # an accent is one character, and changes one word
        ("Delete me entirely.", "", 19, 4),
        ("", "Written from nothing.", 21, 4),
    ],
)
def test_edit_distance_in_characters_and_in_words(draft, final, chars, words):
    distance = EditDistance.between(draft, final)
    assert (distance.chars, distance.words) == (chars, words)
    assert distance.unchanged is False


def test_a_draft_submitted_as_it_was_is_unchanged_whatever_the_line_endings_and_outer_space():
    draft = "First line.\nSecond line."
    for final in (draft, "First line.\r\nSecond line.", "  First line.\nSecond line.\n\n"):
        distance = EditDistance.between(draft, final)
        assert (distance.chars, distance.words, distance.word_share, distance.unchanged) == (0, 0, 0.0, True)


def test_the_share_of_words_changed_is_over_the_longer_text():
    # 6 token edits over the final's 13 tokens
    distance = EditDistance.between(
        "The capital of France is Paris.", "The capital of France is Paris, a city on the Seine."
    )
    assert distance.word_share == pytest.approx(6 / 13)
    assert EditDistance.between("one two", "three four").word_share == 1.0


def test_words_are_runs_of_letters_and_digits_and_each_mark_is_a_token():
    assert word_tokens("It's 42°C — hot!") == ["It", "'", "s", "42", "°", "C", "—", "hot", "!"]
