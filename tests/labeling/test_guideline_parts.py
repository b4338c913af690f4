"""Beside a writing task the guideline shows what applies to that kind of task, and says what it left out."""

from labeling.guideline_parts import guideline_for_kind

GUIDELINE = """Read this first: be kind.

# Ranking answers

Rank every answer from best to worst.

## Ties

Put equal answers in one tier.

## Ratings

Rate each answer 1 to 7.

# Demonstrations

Write the ideal answer.

## Length

Short beats long.

# Refusals

Say "I don't know" when you do not.

# Searching

Cite every source you used as [1].

```
# Ranking inside a code block is not a heading
```

# Privacy

Never paste personal data.
"""


def test_a_demonstration_sees_the_general_and_demonstration_sections_only():
    part = guideline_for_kind(GUIDELINE, "demonstration")

    html = str(part.html)
    assert "be kind" in html and "Write the ideal answer." in html and "Short beats long." in html
    assert "Never paste personal data." in html  # a section about no kind in particular is for all
    assert "Rank every answer" not in html and "Put equal answers" not in html  # "Ties" sits in Ranking
    assert "I don't know" not in html and "Cite every source" not in html
    assert part.left_out == ["Ranking answers", "Ties", "Ratings", "Refusals", "Searching"]
    assert part.kind_name == "demonstrations" and not part.whole


def test_refusal_and_search_tasks_also_see_the_demonstration_sections():
    refusal = str(guideline_for_kind(GUIDELINE, "refusal").html)
    search = str(guideline_for_kind(GUIDELINE, "search").html)

    assert "I don't know" in refusal and "Write the ideal answer." in refusal and "Cite every" not in refusal
    assert "Cite every source" in search and "Write the ideal answer." in search and "know" not in search
    assert "<code># Ranking inside a code block is not a heading" in search


def test_a_guideline_with_nothing_for_the_kind_is_shown_whole():
    part = guideline_for_kind("# Ranking\n\nRank them all.\n", "demonstration")

    assert "Rank them all." in str(part.html) and part.whole and part.left_out == []


def test_a_guideline_without_headings_is_shown_as_it_is():
    part = guideline_for_kind("Be helpful.\nBe honest.", "search")

    assert "Be helpful." in str(part.html) and part.left_out == [] and not part.whole
