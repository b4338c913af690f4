"""Decontamination: find texts that share a run of words with an evaluation set.

A text is contaminated when one of its word n-grams also occurs in an evaluation text: 13 words for
long texts (the GPT-3 rule), 8 for short ones, where a 13-word run would rarely fit. A text shorter
than the short n-gram is contaminated only when its whole normalized text equals an evaluation
text's; matching a two-word prompt anywhere inside an evaluation passage would flag everything.

Words and n-gram hashes are the ones `curation.cleaning.minhash` computes, so "the same words" means the
same thing in dedup and decontamination; the evaluation n-grams are kept as one sorted numpy array
per length, which costs 16 bytes per n-gram instead of a dict entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from curation.cleaning.minhash import MinHashConfig, MinHasher, normalized_text_hash, words


@dataclass(frozen=True)
class DecontamConfig:
    long_ngram: int = 13
    short_ngram: int = 8
    short_text_words: int = 50  # texts with fewer words than this are matched on short_ngram

    def __post_init__(self) -> None:
        if not 1 <= self.short_ngram <= self.long_ngram:
            raise ValueError("the n-grams must satisfy 1 <= short_ngram <= long_ngram")
        if self.short_text_words < 1:
            raise ValueError("short_text_words must be positive")

    def ngram_for(self, word_count: int) -> int:
        long_enough = word_count >= self.short_text_words and word_count >= self.long_ngram
        return self.long_ngram if long_enough else self.short_ngram


@dataclass(frozen=True)
class Contamination:
    eval_key: int  # the evaluation text that shares the run
    ngram: int  # words per n-gram compared (0: the whole normalized text matched)
    matched: str  # the first shared run of words
    shared_ngrams: int  # how many of the text's n-grams occur in the evaluation set
    text_ngrams: int

    @property
    def explanation(self) -> str:
        if self.ngram == 0:
            return f"the whole text equals an evaluation text: “{self.matched}”"
        return (
            f"shares {self.shared_ngrams} of its {self.text_ngrams} word {self.ngram}-grams with an "
            f"evaluation text, first “{self.matched}”"
        )


class _NgramTable:
    """Sorted hashes of every evaluation n-gram of one length, and which text each came from."""

    def __init__(self, texts: Sequence[str], n: int) -> None:
        self.hasher = MinHasher(MinHashConfig(ngram=n))
        self.n = n
        shingles, counts = self.hasher.shingles(texts) if texts else (np.empty(0, np.uint64), np.empty(0))
        owners = np.repeat(np.arange(len(counts)), counts.astype(np.int64))
        order = np.argsort(shingles, kind="stable")
        self.hashes = shingles[order]
        self.owners = owners[order]

    def lookup(self, shingles: np.ndarray) -> np.ndarray:
        """Index of the owning evaluation text for each shingle, -1 where it occurs in none."""
        if not len(self.hashes):
            return np.full(len(shingles), -1, dtype=np.int64)
        at = np.searchsorted(self.hashes, shingles)
        found = at < len(self.hashes)
        found[found] = self.hashes[at[found]] == shingles[found]
        return np.where(found, self.owners[np.minimum(at, len(self.hashes) - 1)], -1)


class EvalIndex:
    """Every n-gram of an evaluation set, ready to test texts against."""

    def __init__(
        self,
        texts: Sequence[str],
        keys: Sequence[int] | None = None,
        config: DecontamConfig | None = None,
    ) -> None:
        self.config = config or DecontamConfig()
        self.keys = list(range(len(texts))) if keys is None else list(keys)
        if len(self.keys) != len(texts):
            raise ValueError("keys and texts must have the same length")
        usable = [t for t in texts if len(words(t)) >= self.config.short_ngram]
        owners = [i for i, t in enumerate(texts) if len(words(t)) >= self.config.short_ngram]
        self._owners = np.asarray(owners, dtype=np.int64)
        lengths = {self.config.short_ngram, self.config.long_ngram}
        self._tables = {n: _NgramTable(usable, n) for n in lengths}
        self._whole = {normalized_text_hash(t): i for i, t in reversed(list(enumerate(texts)))}

    def check(self, text: str) -> Contamination | None:
        """The evaluation text this text overlaps with, or None when it is clean."""
        tokens = words(text)
        if not tokens:
            return None
        if len(tokens) < self.config.short_ngram:
            owner = self._whole.get(normalized_text_hash(text))
            if owner is None:
                return None
            return Contamination(self.keys[owner], 0, " ".join(tokens), 1, 1)
        table = self._tables[self.config.ngram_for(len(tokens))]
        shingles, _ = table.hasher.shingles([text])
        owners = table.lookup(shingles)
        hits = np.flatnonzero(owners >= 0)
        if not len(hits):
            return None
        first = int(hits[0])
        return Contamination(
            eval_key=self.keys[int(self._owners[owners[first]])],
            ngram=table.n,
            matched=" ".join(tokens[first : first + table.n]),
            shared_ngrams=len(hits),
            text_ngrams=len(shingles),
        )

    def check_all(self, texts: Sequence[str]) -> list[Contamination | None]:
        return [self.check(text) for text in texts]
