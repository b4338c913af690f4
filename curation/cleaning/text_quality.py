"""Gopher- and C4-style quality heuristics that flag a text and say why; they never delete anything.

Defaults are the published values (Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
Insights from Training Gopher", appendix A; Raffel et al. 2020 for the C4 rules). They were tuned
for web pages, so a project that curates short prompts will want its own `QualityThresholds`:
store it as `asdict(thresholds)` JSON and load it with `QualityThresholds.from_dict`. A threshold
set to None turns its check off.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

_ELLIPSES = ("...", "…")
_BULLETS = ("•", "●", "○", "■", "□", "▪", "▫", "–", "-", "*", "‣", "⁃")
_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})  # Gopher's list
_TERMINAL = (".", "!", "?", '"', "'", "”", "’")
_EDGE_PUNCTUATION = "\"'“”‘’«»()[]{}<>.,;:!?…*_-–—"
_HAS_ALPHA = re.compile(r"[^\W\d_]")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def _share(name: str, value: Any, upper: float | None = 1.0) -> float:
    """A finite non-negative number (at most `upper` when given) from a JSON setting."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number")
    if value < 0 or (upper is not None and value > upper):
        raise ValueError(f"{name} must be from 0 to {upper}" if upper is not None else f"{name} must be >= 0")
    return float(value)


@dataclass(frozen=True)
class QualityThresholds:
    """Limits a text must respect; None switches a check off."""

    min_words: int | None = 50
    max_words: int | None = 100_000
    min_mean_word_length: float | None = 3.0
    max_mean_word_length: float | None = 10.0
    max_hash_to_word_ratio: float | None = 0.1
    max_ellipsis_to_word_ratio: float | None = 0.1
    max_bullet_line_fraction: float | None = 0.9
    max_ellipsis_line_fraction: float | None = 0.3
    min_alpha_word_fraction: float | None = 0.8
    min_stop_words: int | None = 2
    max_duplicate_line_fraction: float | None = 0.3
    max_duplicate_line_char_fraction: float | None = 0.2
    max_duplicate_paragraph_fraction: float | None = 0.3
    max_duplicate_paragraph_char_fraction: float | None = 0.2
    # Most frequent n-gram's share of characters, n = 2, 3, 4.
    max_top_ngram_char_fraction: Mapping[int, float] | None = field(
        default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16}
    )
    # Share of characters inside repeated n-grams, n = 5..10.
    max_duplicate_ngram_char_fraction: Mapping[int, float] | None = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )
    # C4 rules, off by default: answers in post-training data are often one line, and code has braces.
    min_terminal_punctuation_line_fraction: float | None = None
    flag_lorem_ipsum: bool = True
    flag_curly_brace: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityThresholds:
        """Inverse of `asdict`; JSON turns the n-gram keys into strings, so they are read back as ints.

        Each value is checked against its field's type (a count, a non-negative number, a switch, or a
        table of n to share), so a mistyped setting is refused when saved, not by the next cleaning run.
        """
        kinds = {f.name: str(f.type) for f in fields(cls)}
        unknown = set(data) - set(kinds)
        if unknown:
            raise ValueError(f"unknown quality thresholds: {sorted(unknown)[:5]}")
        values = dict(data)
        for name, value in values.items():
            kind = kinds[name]
            if value is None and "None" in kind:
                continue
            if kind == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif kind.startswith("Mapping"):
                if not isinstance(value, Mapping) or not all(
                    str(n).isascii() and str(n).isdigit() and 0 < int(n) <= 100 for n in value
                ):
                    raise ValueError(f"{name} must map n-gram sizes (1 to 100) to shares")
                values[name] = {int(n): _share(f"{name}[{n}]", limit) for n, limit in value.items()}
            elif kind.startswith("int"):
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**31 - 1:
                    raise ValueError(f"{name} must be a whole number from 0 to {2**31 - 1}")
            else:
                _share(name, value, upper=None)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QualityFlag:
    name: str
    value: float
    threshold: float
    explanation: str


@dataclass(frozen=True)
class _Text:
    """The pieces every signal is computed from, split once."""

    text: str
    words: list[str]  # whitespace tokens with edge punctuation stripped; pure punctuation dropped
    lines: list[str]  # non-blank lines, stripped
    paragraphs: list[str]

    @classmethod
    def parse(cls, text: str) -> _Text:
        stripped = (token.strip(_EDGE_PUNCTUATION) for token in text.split())
        paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
        return cls(
            text=text,
            words=[w for w in stripped if w],
            lines=[line.strip() for line in text.splitlines() if line.strip()],
            paragraphs=paragraphs,
        )


# ---------------------------------------------------------------------------------------------
# Signals


def mean_word_length(words: Sequence[str]) -> float:
    return sum(map(len, words)) / len(words) if words else 0.0


def symbol_to_word_ratio(text: str, symbols: Sequence[str], word_count: int) -> float:
    return sum(text.count(s) for s in symbols) / max(word_count, 1)


def line_fraction(lines: Sequence[str], predicate: Any) -> float:
    return sum(1 for line in lines if predicate(line)) / len(lines) if lines else 0.0


def alpha_word_fraction(words: Sequence[str]) -> float:
    return sum(1 for w in words if _HAS_ALPHA.search(w)) / len(words) if words else 0.0


def duplicate_fractions(items: Sequence[str]) -> tuple[float, float]:
    """(share of items that repeat an earlier one, share of characters in those repeats)."""
    if not items:
        return 0.0, 0.0
    seen: set[str] = set()
    repeats = repeat_chars = 0
    for item in items:
        if item in seen:
            repeats += 1
            repeat_chars += len(item)
        seen.add(item)
    return repeats / len(items), repeat_chars / max(sum(map(len, items)), 1)


def top_ngram_char_fraction(words: Sequence[str], n: int) -> float:
    """Share of word characters covered by the most frequent n-gram (when it occurs more than once).

    Coverage is counted per word position, so overlapping occurrences ("a a a") are not double-counted.
    """
    grams = _ngrams(words, n)
    if not grams:
        return 0.0
    top, count = Counter(grams).most_common(1)[0]
    if count < 2:
        return 0.0
    covered = _covered(len(words), n, (i for i, g in enumerate(grams) if g == top))
    return _covered_char_fraction(words, covered)


def duplicate_ngram_char_fraction(words: Sequence[str], n: int) -> float:
    """Share of word characters inside an n-gram that already occurred earlier in the text.

    Gopher's definition counts each character once even where duplicate n-grams overlap.
    """
    grams = _ngrams(words, n)
    seen: set[tuple[str, ...]] = set()
    starts = []
    for i, gram in enumerate(grams):
        if gram in seen:
            starts.append(i)
        seen.add(gram)
    return _covered_char_fraction(words, _covered(len(words), n, starts))


def _ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    lowered = [w.lower() for w in words]
    return [tuple(lowered[i : i + n]) for i in range(len(lowered) - n + 1)]


def _covered(length: int, n: int, starts: Any) -> list[bool]:
    covered = [False] * length
    for start in starts:
        covered[start : start + n] = [True] * n
    return covered


def _covered_char_fraction(words: Sequence[str], covered: Sequence[bool]) -> float:
    total = sum(map(len, words))
    return sum(len(w) for w, c in zip(words, covered, strict=True) if c) / total if total else 0.0


# ---------------------------------------------------------------------------------------------
# Flags


def quality_flags(text: str, thresholds: QualityThresholds | None = None) -> list[QualityFlag]:
    """Every check the text fails, each with the measured value, the limit and a sentence saying so."""
    t = thresholds or QualityThresholds()
    doc = _Text.parse(text)
    checks = _length_checks(doc, t) + _symbol_checks(doc, t) + _repetition_checks(doc, t) + _c4_checks(doc, t)
    return [flag for flag in checks if flag is not None]


def _at_least(name: str, value: float, limit: float | None, what: str) -> QualityFlag | None:
    if limit is None or value >= limit:
        return None
    return QualityFlag(
        name, float(value), float(limit), f"{what} is {_fmt(value)}, below the minimum {_fmt(limit)}"
    )


def _at_most(name: str, value: float, limit: float | None, what: str) -> QualityFlag | None:
    if limit is None or value <= limit:
        return None
    return QualityFlag(
        name, float(value), float(limit), f"{what} is {_fmt(value)}, above the maximum {_fmt(limit)}"
    )


def _length_checks(doc: _Text, t: QualityThresholds) -> list[QualityFlag | None]:
    n = len(doc.words)
    checks = [
        _at_least("too_few_words", n, t.min_words, "word count"),
        _at_most("too_many_words", n, t.max_words, "word count"),
    ]
    if n:  # an empty text is already flagged for its length; ratios over nothing say nothing more
        mean = mean_word_length(doc.words)
        alpha = alpha_word_fraction(doc.words)
        checks += [
            _at_least("short_words", mean, t.min_mean_word_length, "mean word length"),
            _at_most("long_words", mean, t.max_mean_word_length, "mean word length"),
            _at_least(
                "few_alphabetic_words", alpha, t.min_alpha_word_fraction, "share of words with a letter"
            ),
        ]
    if t.min_stop_words is not None:
        stop_words = sum(1 for w in doc.words if w.lower() in _STOP_WORDS)
        what = "count of English stop words (the, be, to, of, and, that, have, with)"
        checks.append(_at_least("few_stop_words", stop_words, t.min_stop_words, what))
    return checks


def _symbol_checks(doc: _Text, t: QualityThresholds) -> list[QualityFlag | None]:
    n = len(doc.words)
    hashes = symbol_to_word_ratio(doc.text, ("#",), n)
    ellipses = symbol_to_word_ratio(doc.text, _ELLIPSES, n)
    bullet_lines = line_fraction(doc.lines, lambda line: line.startswith(_BULLETS))
    ellipsis_lines = line_fraction(doc.lines, lambda line: line.endswith(_ELLIPSES))
    return [
        _at_most("hash_symbols", hashes, t.max_hash_to_word_ratio, "'#' per word"),
        _at_most("ellipses", ellipses, t.max_ellipsis_to_word_ratio, "ellipses per word"),
        _at_most(
            "bullet_lines", bullet_lines, t.max_bullet_line_fraction, "share of lines starting with a bullet"
        ),
        _at_most(
            "ellipsis_lines", ellipsis_lines, t.max_ellipsis_line_fraction, "share of lines ending with '...'"
        ),
    ]


def _repetition_checks(doc: _Text, t: QualityThresholds) -> list[QualityFlag | None]:
    lines, line_chars = duplicate_fractions(doc.lines)
    paragraphs, paragraph_chars = duplicate_fractions(doc.paragraphs)
    checks = [
        _at_most("duplicate_lines", lines, t.max_duplicate_line_fraction, "share of lines that repeat"),
        _at_most("duplicate_line_chars", line_chars, t.max_duplicate_line_char_fraction,
                 "share of characters in repeated lines"),
        _at_most("duplicate_paragraphs", paragraphs, t.max_duplicate_paragraph_fraction,
                 "share of paragraphs that repeat"),
        _at_most("duplicate_paragraph_chars", paragraph_chars, t.max_duplicate_paragraph_char_fraction,
                 "share of characters in repeated paragraphs"),
    ]  # fmt: skip
    for n, limit in sorted((t.max_top_ngram_char_fraction or {}).items()):
        value = top_ngram_char_fraction(doc.words, n)
        checks.append(
            _at_most(f"top_{n}gram", value, limit, f"share of characters in the most frequent {n}-gram")
        )
    for n, limit in sorted((t.max_duplicate_ngram_char_fraction or {}).items()):
        value = duplicate_ngram_char_fraction(doc.words, n)
        checks.append(
            _at_most(f"duplicate_{n}grams", value, limit, f"share of characters in repeated {n}-grams")
        )
    return checks


def _c4_checks(doc: _Text, t: QualityThresholds) -> list[QualityFlag | None]:
    checks = []
    if doc.lines:
        terminated = line_fraction(doc.lines, lambda line: line.endswith(_TERMINAL))
        what = "share of lines ending in terminal punctuation"
        limit = t.min_terminal_punctuation_line_fraction
        checks.append(_at_least("unterminated_lines", terminated, limit, what))
    if t.flag_lorem_ipsum and "lorem ipsum" in doc.text.lower():
        checks.append(
            QualityFlag("lorem_ipsum", 1.0, 0.0, "the text contains 'lorem ipsum' placeholder text")
        )
    if t.flag_curly_brace and "{" in doc.text:
        what = "the text contains '{' (C4 drops such pages as code or templates)"
        checks.append(QualityFlag("curly_brace", float(doc.text.count("{")), 0.0, what))
    return checks


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"
