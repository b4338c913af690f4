"""Exact and near-duplicate detection: normalized-text hashes, MinHash signatures, LSH banding.

Near duplicates are pairs whose word n-gram (shingle) sets have a Jaccard similarity of at least
`threshold`. MinHash + LSH only proposes candidate pairs; every pair is confirmed on the true
Jaccard of the shingle sets, so the threshold means what it says and LSH trades only speed for recall.

Everything is vectorised with numpy and deterministic: words are hashed with blake2b (never
Python's `hash`, which PYTHONHASHSEED salts) and the permutations come from a seeded PCG64.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain
from typing import Literal

import numpy as np

KeepRule = Literal["first", "lowest_id", "longest"]

_WORD = re.compile(r"\w+")
_U64 = np.uint64
# Odd 64-bit constants: the polynomial base for n-gram hashes and splitmix64's finalizer multipliers.
_NGRAM_BASE = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_EMPTY = np.iinfo(np.uint32).max


@dataclass(frozen=True)
class MinHashConfig:
    """How documents are shingled and sketched, and which pairs count as near duplicates."""

    ngram: int = 5  # words per shingle
    num_perm: int = 128  # MinHash permutations (signature length)
    threshold: float = 0.8  # minimum true Jaccard of the shingle sets
    # Probability that a pair at exactly `threshold` shares an LSH bucket; the band/row split is the
    # cheapest one that reaches it. Candidates are confirmed anyway, so recall is worth more than
    # the extra candidates (datasketch's balanced default finds only ~40% of pairs at J = 0.8).
    min_candidate_probability: float = 0.98
    seed: int = 1
    batch_size: int = 4096  # documents sketched per numpy pass
    # Buckets up to this size compare every pair; in a larger one each member is compared with at most
    # this many representatives (see `representative_pairs`), so the work stays linear in the bucket.
    max_bucket_all_pairs: int = 32

    def __post_init__(self) -> None:
        if self.ngram < 1 or self.num_perm < 1 or self.batch_size < 1:
            raise ValueError("ngram, num_perm and batch_size must be positive")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if not 0.0 < self.min_candidate_probability < 1.0:
            raise ValueError("min_candidate_probability must be in (0, 1)")


@dataclass(frozen=True)
class DuplicatePair:
    a: int
    b: int
    jaccard: float  # 1.0 for exact duplicates


@dataclass(frozen=True)
class DuplicateCluster:
    kept: int
    duplicates: tuple[int, ...]  # every other member, in input order

    @property
    def members(self) -> tuple[int, ...]:
        return (self.kept, *self.duplicates)


@dataclass(frozen=True)
class DedupResult:
    clusters: list[DuplicateCluster]
    pairs: list[DuplicatePair]  # confirmed pairs (exact ones included when the caller asked for them)
    candidate_pairs: int  # pairs whose exact Jaccard was computed: the work LSH left to confirmation
    bands: int
    rows: int

    def duplicate_ids(self) -> set[int]:
        """Ids to drop so that one document per cluster remains."""
        return {d for cluster in self.clusters for d in cluster.duplicates}


# ---------------------------------------------------------------------------------------------
# Exact duplicates


@cache
def _punctuation_pattern() -> re.Pattern[str]:
    # Unicode category P* only: symbols such as + = $ carry meaning ("2+2=4" is not "2-2=4").
    chars = "".join(chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c))[0] == "P")
    return re.compile("[" + re.escape(chars) + "]+")


_ASCII_NORMALIZE_TABLE = str.maketrans(
    {c: None for c in map(chr, range(128)) if unicodedata.category(c)[0] == "P"}
    | {c: c.lower() for c in map(chr, range(ord("A"), ord("Z") + 1))}
)


def normalize_text(text: str) -> str:
    """NFKC, lowercase, punctuation removed, whitespace collapsed: the form exact duplicates share."""
    if text.isascii():  # NFKC leaves ASCII alone; one translate is many times faster than the big regex
        text = text.translate(_ASCII_NORMALIZE_TABLE)
    else:
        text = _punctuation_pattern().sub("", unicodedata.normalize("NFKC", text).lower())
    return " ".join(text.split())


def normalized_text_hash(text: str) -> str:
    """Hex digest of the normalized text; equal for texts that differ only in case, spacing, punctuation."""
    return hashlib.blake2b(normalize_text(text).encode("utf-8"), digest_size=16).hexdigest()


def exact_duplicate_clusters(
    texts: Sequence[str], *, ids: Sequence[int] | None = None, keep: KeepRule = "first"
) -> list[DuplicateCluster]:
    """Groups of documents with the same normalized text (singletons left out)."""
    ids = _ids_or_positions(texts, ids)
    groups: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        groups.setdefault(normalized_text_hash(text), []).append(i)
    components = [members for members in groups.values() if len(members) > 1]
    return [_cluster(members, texts, ids, keep) for members in components]


# ---------------------------------------------------------------------------------------------
# Shingles and signatures


# ASCII non-word characters to spaces and capitals to lower case: splitting the result gives exactly
# the lowercased \w+ tokens of ASCII text, in under two thirds of the regex's time.
_ASCII_WORD_TABLE = str.maketrans(
    {c: " " for c in map(chr, range(128)) if not (c.isalnum() or c == "_")}
    | {c: c.lower() for c in map(chr, range(ord("A"), ord("Z") + 1))}
)


def words(text: str) -> list[str]:
    """Lowercased word tokens (NFKC first, so compatibility forms such as full-width letters match)."""
    if text.isascii():
        return text.translate(_ASCII_WORD_TABLE).split()
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def stable_word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


class _WordHashes(dict[str, int]):
    """word -> 64-bit hash; each distinct word is hashed once (blake2b is the slow part)."""

    def __missing__(self, word: str) -> int:
        value = self[word] = stable_word_hash(word)
        return value


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, in place: spreads the polynomial hash over all 64 bits."""
    x ^= x >> _U64(30)
    x *= _MIX1
    x ^= x >> _U64(27)
    x *= _MIX2
    x ^= x >> _U64(31)
    return x


def ngram_hashes(word_hashes: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every document's word n-grams, concatenated, and how many each document has.

    `word_hashes` holds the documents' word hashes back to back, `lengths` their word counts.
    A document shorter than n words gets one shingle made of all its words, so short texts
    still compare; an empty document gets none.
    """
    total = len(word_hashes)
    lengths = lengths.astype(np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    short = (lengths > 0) & (lengths < n)
    short_values = np.empty(int(short.sum()), dtype=np.uint64)
    short_lengths = lengths[short]
    short_offsets = offsets[short]

    acc = word_hashes.astype(np.uint64, copy=True)
    _record_short(short_values, short_lengths, short_offsets, acc, 1)
    for j in range(1, n):  # after step j, acc[i] hashes words i..i+j
        acc[: total - j] *= _NGRAM_BASE
        acc[: total - j] += word_hashes[j:]
        _record_short(short_values, short_lengths, short_offsets, acc, j + 1)

    counts = np.where(short, 1, np.maximum(lengths - n + 1, 0))
    out_offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    positions = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(offsets - out_offsets, counts)
    shingles = acc[positions]
    shingles[out_offsets[short]] = short_values
    return _mix64(shingles), counts


def _record_short(
    values: np.ndarray, lengths: np.ndarray, offsets: np.ndarray, acc: np.ndarray, width: int
) -> None:
    hit = lengths == width
    if hit.any():
        values[hit] = acc[offsets[hit]]


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False) | _U64(1)  # odd: a bijection
    b = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    return a, b


class MinHasher:
    """Sketches documents into MinHash signatures (uint32, one row per document)."""

    def __init__(self, config: MinHashConfig | None = None) -> None:
        self.config = config or MinHashConfig()
        self._a, self._b = _permutations(self.config.num_perm, self.config.seed)
        self._word_hashes = _WordHashes()

    def shingles(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Concatenated shingle hashes of `texts` and each text's shingle count."""
        tokens = [words(t) for t in texts]
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        flat = chain.from_iterable(tokens)
        hashed = np.fromiter(
            map(self._word_hashes.__getitem__, flat), dtype=np.uint64, count=int(lengths.sum())
        )
        return ngram_hashes(hashed, lengths, self.config.ngram)

    def shingle_sets(self, texts: Sequence[str]) -> list[set[int]]:
        shingles, counts = self.shingles(texts)
        ends = np.cumsum(counts)
        return [set(shingles[end - c : end].tolist()) for end, c in zip(ends, counts, strict=True)]

    def sketch(self, texts: Sequence[str]) -> np.ndarray:
        """Signatures, shape (len(texts), num_perm); an empty document's row is all 0xFFFFFFFF."""
        out = np.empty((len(texts), self.config.num_perm), dtype=np.uint32)
        step = self.config.batch_size
        for start in range(0, len(texts), step):
            out[start : start + step] = self._sketch_batch(texts[start : start + step])
        return out

    def _sketch_batch(self, texts: Sequence[str]) -> np.ndarray:
        shingles, counts = self.shingles(texts)
        signatures = np.full((len(texts), self.config.num_perm), _EMPTY, dtype=np.uint32)
        present = counts > 0
        if not present.any():
            return signatures
        starts = (np.cumsum(counts) - counts)[present]
        minima = np.empty((self.config.num_perm, len(starts)), dtype=np.uint64)
        scratch = np.empty_like(shingles)
        # One permutation at a time keeps `scratch` cache-sized; reduceat takes each document's minimum.
        for p in range(self.config.num_perm):
            np.multiply(shingles, self._a[p], out=scratch)
            scratch += self._b[p]
            np.minimum.reduceat(scratch, starts, out=minima[p])
        # (a*x + b) mod 2^64 is the permutation and its top 32 bits the hash; min commutes with >>.
        signatures[present] = (minima >> _U64(32)).T
        return signatures


def jaccard(a: set[int], b: set[int]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Share of permutations whose minima agree: an unbiased estimate of the Jaccard similarity."""
    return float(np.mean(sig_a == sig_b))


# ---------------------------------------------------------------------------------------------
# LSH banding


def candidate_probability(similarity: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """Probability that a pair with this Jaccard shares at least one of `bands` buckets of `rows` rows."""
    return 1.0 - (1.0 - np.asarray(similarity, dtype=float) ** rows) ** bands


def lsh_bands(threshold: float, num_perm: int, min_candidate_probability: float = 0.98) -> tuple[int, int]:
    """(bands, rows) with bands*rows <= num_perm.

    Among the splits that make a pair at exactly `threshold` a candidate with at least
    `min_candidate_probability`, the one with the fewest expected false candidates (area under
    the candidate curve below the threshold). If none reaches it, the split that comes closest.
    """
    grid = np.linspace(0.0, threshold, 201)
    best: tuple[float, int, int] | None = None
    fallback: tuple[float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        at_threshold = float(candidate_probability(threshold, bands, rows))
        false_area = float(np.trapezoid(candidate_probability(grid, bands, rows), grid))
        if at_threshold >= min_candidate_probability and (best is None or false_area < best[0]):
            best = (false_area, bands, rows)
        if fallback is None or at_threshold > fallback[0]:
            fallback = (at_threshold, bands, rows)
    chosen = best or fallback
    assert chosen is not None
    return chosen[1], chosen[2]


def band_keys(signatures: np.ndarray, bands: int, rows: int, *, block: int = 8192) -> np.ndarray:
    """One 64-bit key per document and band, shape (n_docs, bands); equal rows give equal keys."""
    keys = np.empty((len(signatures), bands), dtype=np.uint64)
    for start in range(0, len(signatures), block):  # row blocks keep the column reads in cache
        sig = signatures[start : start + block].astype(np.uint64)
        for band in range(bands):
            key = np.full(len(sig), band + 1, dtype=np.uint64)
            for col in range(band * rows, (band + 1) * rows):
                key *= _NGRAM_BASE
                key ^= sig[:, col]
            keys[start : start + block, band] = _mix64(key)
    return keys


def bucket_pairs(keys: np.ndarray, max_bucket_all_pairs: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every index pair (i < j) of each bucket of up to `max_bucket_all_pairs` equal keys, shape (m, 2),
    and the members of each larger bucket, left to `representative_pairs`."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    same_as_next = sorted_keys[1:] == sorted_keys[:-1]
    in_bucket = np.zeros(len(keys), dtype=bool)
    in_bucket[:-1] |= same_as_next
    in_bucket[1:] |= same_as_next
    if not in_bucket.any():
        return np.empty((0, 2), dtype=np.int64), []
    members = order[in_bucket]
    group = np.cumsum(np.concatenate(([True], sorted_keys[in_bucket][1:] != sorted_keys[in_bucket][:-1])))
    sizes = np.bincount(group)[group]

    pieces = [np.empty((0, 2), dtype=np.int64)]
    small = sizes <= max_bucket_all_pairs
    for k in range(1, int(sizes[small].max(initial=1))):
        same = (group[:-k] == group[k:]) & small[:-k]
        pieces.append(np.stack([members[:-k][same], members[k:][same]], axis=1))
    big = members[~small]
    oversized = np.split(big, np.flatnonzero(np.diff(group[~small])) + 1) if len(big) else []
    return np.sort(np.concatenate(pieces), axis=1), oversized


# The chance that `representative_pairs` skips, on its signatures, a pair at exactly the threshold.
_SIGNATURE_MISS = 1e-4
# An oversized bucket takes no more representatives after this many in a row confirmed nobody.
_FRUITLESS_REPRESENTATIVES = 3
# How many already confirmed members each later representative is also tried against.
_CONFIRMED_TRIED = 8


def representative_pairs(
    signatures: np.ndarray,
    members: np.ndarray,
    *,
    band_rows: int,
    threshold: float,
    confirm: Callable[[int, np.ndarray], np.ndarray],
    max_representatives: int,
) -> np.ndarray:
    """Near-duplicate pairs (i < j) in one oversized bucket, each confirmed by `confirm`, shape (m, 2).

    Pairing every member of a big bucket with one arbitrary member loses the family whenever that
    member is itself a copy: copies of a template are near the template but often not near each
    other. So the bucket keeps a few representatives instead. Members are taken most typical first
    (the most signature values shared with the rest of the bucket, which puts the template, or the
    most central copy, in front). Each representative is compared on the signatures with every
    member that no representative has confirmed yet; those whose estimated Jaccard (outside the
    band they share) could reach the threshold are checked with `confirm` (the exact Jaccard), and
    the first member still unconfirmed becomes the next representative. A later representative may
    still belong to a cluster confirmed before it, so it is also tried against the
    `_CONFIRMED_TRIED` confirmed members its signature agrees with most.

    A bucket keeps at most `max_representatives`: a bucket of n members costs at most
    (n + _CONFIRMED_TRIED) * max_representatives exact comparisons, and a member is compared with
    representatives until one confirms it, then only as one of those few. It stops earlier once
    `_FRUITLESS_REPRESENTATIVES` in a row confirmed nobody: when its most typical members are near
    nothing, it holds look-alikes (shared boilerplate) rather than copies, and comparing the rest
    would mostly be wasted. Members left unconfirmed get no pair from this bucket; near duplicates
    among them still meet in their other bands.
    """
    sig = signatures[members]
    n, num_perm = sig.shape
    order = np.argsort(-_typicality(sig), kind="stable")
    sig, members = sig[order], members[order]
    min_agreements = band_rows + _fewest_agreements(threshold, num_perm - band_rows, _SIGNATURE_MISS)
    unconfirmed = np.ones(n, dtype=bool)  # neither a representative nor confirmed by one
    confirmed = np.zeros(n, dtype=bool)  # confirmed by a representative
    pieces = [np.empty((0, 2), dtype=np.int64)]
    fruitless = 0
    for _ in range(max_representatives):
        waiting = np.flatnonzero(unconfirmed)
        if not len(waiting) or fruitless == _FRUITLESS_REPRESENTATIVES:
            break
        rep = int(waiting[0])
        unconfirmed[rep] = False
        agreements = np.count_nonzero(sig == sig[rep], axis=1)
        possible = agreements >= min_agreements
        known = np.flatnonzero(possible & confirmed)
        known = known[np.argsort(-agreements[known], kind="stable")[:_CONFIRMED_TRIED]]
        tried = np.concatenate([np.flatnonzero(possible & unconfirmed), known])
        near = tried[confirm(int(members[rep]), members[tried])] if len(tried) else tried
        unconfirmed[near], confirmed[near] = False, True
        pieces.append(np.stack([np.full(len(near), members[rep]), members[near]], axis=1))
        fruitless = 0 if len(near) else fruitless + 1
    return np.sort(np.concatenate(pieces), axis=1)


@cache
def _fewest_agreements(similarity: float, permutations: int, miss: float) -> int:
    """The largest k such that a pair with this Jaccard agrees on fewer than k of `permutations`
    independent minima with probability at most `miss` (the binomial lower tail)."""
    k = np.arange(permutations + 1)
    pmf = np.array([math.comb(permutations, int(i)) for i in k], dtype=float)
    pmf *= similarity**k * (1.0 - similarity) ** (permutations - k)
    return int(np.searchsorted(np.cumsum(pmf), miss, side="right"))


def _typicality(signatures: np.ndarray) -> np.ndarray:
    """For each row, summed over the permutations, how many other rows hold the same minimum: its
    signature agreement with the rest of the bucket, without comparing every pair of rows."""
    typicality = np.zeros(len(signatures), dtype=np.int64)
    for column in signatures.T:
        ordered = np.sort(column)
        typicality += np.searchsorted(ordered, column, "right") - np.searchsorted(ordered, column, "left")
    return typicality - signatures.shape[1]


def lsh_candidate_pairs(
    signatures: np.ndarray,
    bands: int,
    rows: int,
    *,
    threshold: float,
    confirm: Callable[[int, np.ndarray], np.ndarray],
    max_bucket_all_pairs: int = 32,
) -> np.ndarray:
    """Distinct index pairs (i < j) that share a bucket in at least one band; empty documents never do.

    Small buckets give every pair, still to be confirmed; an oversized one gives the pairs that
    `representative_pairs` confirmed with `confirm(i, others)`, which tells which of `others` are
    near duplicates of document i (true Jaccard >= `threshold`).
    """
    nonempty = np.flatnonzero(~(signatures == _EMPTY).all(axis=1))
    kept = signatures[nonempty]
    keys = band_keys(kept, bands, rows)

    def confirm_local(i: int, others: np.ndarray) -> np.ndarray:
        return confirm(int(nonempty[i]), nonempty[others])

    found = []
    for band in range(bands):
        pairs, oversized = bucket_pairs(keys[:, band], max_bucket_all_pairs)
        found.append(pairs)
        for members in oversized:
            found.append(
                representative_pairs(
                    kept,
                    members,
                    band_rows=rows,
                    threshold=threshold,
                    confirm=confirm_local,
                    max_representatives=max_bucket_all_pairs,
                )
            )
    pairs = np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)
    if not len(pairs):
        return pairs
    n = np.int64(len(nonempty))
    codes = np.unique(pairs[:, 0].astype(np.int64) * n + pairs[:, 1])
    return np.stack([nonempty[codes // n], nonempty[codes % n]], axis=1)


# ---------------------------------------------------------------------------------------------
# Near-duplicate clusters


def near_duplicate_clusters(
    texts: Sequence[str],
    *,
    ids: Sequence[int] | None = None,
    config: MinHashConfig | None = None,
    keep: KeepRule = "first",
) -> DedupResult:
    """Clusters of documents linked by confirmed pairs with shingle Jaccard >= config.threshold."""
    config = config or MinHashConfig()
    ids = _ids_or_positions(texts, ids)
    hasher = MinHasher(config)
    bands, rows = lsh_bands(config.threshold, config.num_perm, config.min_candidate_probability)
    signatures = hasher.sketch(texts)
    exact = ExactJaccard(texts, hasher, config.threshold)
    candidates = lsh_candidate_pairs(
        signatures,
        bands,
        rows,
        threshold=config.threshold,
        confirm=exact,
        max_bucket_all_pairs=config.max_bucket_all_pairs,
    )
    confirmed = exact.confirm_pairs(candidates)
    pairs = [DuplicatePair(ids[i], ids[j], sim) for i, j, sim in confirmed]
    components = connected_components(len(texts), ((i, j) for i, j, _ in confirmed))
    clusters = [_cluster(members, texts, ids, keep) for members in components]
    return DedupResult(
        clusters=clusters, pairs=pairs, candidate_pairs=exact.comparisons, bands=bands, rows=rows
    )


def deduplicate(
    texts: Sequence[str],
    *,
    ids: Sequence[int] | None = None,
    config: MinHashConfig | None = None,
    keep: KeepRule = "first",
) -> DedupResult:
    """Exact duplicates first (cheap), then near duplicates among what is left, merged into one clustering."""
    ids = _ids_or_positions(texts, ids)
    exact = exact_duplicate_clusters(texts, keep="first")  # positions; `keep` applies to the merged clusters
    dropped = {d for c in exact for d in c.duplicates}
    survivors = [i for i in range(len(texts)) if i not in dropped]
    near = near_duplicate_clusters([texts[i] for i in survivors], config=config)

    edges = [(c.kept, d, 1.0) for c in exact for d in c.duplicates]
    edges += [(survivors[p.a], survivors[p.b], p.jaccard) for p in near.pairs]
    components = connected_components(len(texts), ((a, b) for a, b, _ in edges))
    return DedupResult(
        clusters=[_cluster(members, texts, ids, keep) for members in components],
        pairs=[DuplicatePair(ids[a], ids[b], sim) for a, b, sim in edges],
        candidate_pairs=near.candidate_pairs,
        bands=near.bands,
        rows=near.rows,
    )


class ExactJaccard:
    """The true test of a pair: the Jaccard of the two shingle sets reaches `threshold`.

    Each document's shingle set is built once, on first use, and a pair confirmed inside an
    oversized bucket is remembered, so that `confirm_pairs` does not compute it again.
    `comparisons` counts the Jaccards computed.
    """

    def __init__(self, texts: Sequence[str], hasher: MinHasher, threshold: float) -> None:
        self.threshold = threshold
        self.comparisons = 0
        self._texts = texts
        self._hasher = hasher
        self._sets: dict[int, set[int]] = {}
        self._near: dict[tuple[int, int], float] = {}

    def __call__(self, i: int, others: np.ndarray) -> np.ndarray:
        """Which of `others` are near duplicates of document i, as a boolean mask."""
        others_list = others.tolist()
        self._load([i, *others_list])
        sets, known, threshold = self._sets, self._near, self.threshold
        mine = sets[i]
        near = np.zeros(len(others_list), dtype=bool)
        computed = 0
        for k, j in enumerate(others_list):
            pair = (i, j) if i < j else (j, i)
            if pair not in known:
                computed += 1
                similarity = jaccard(mine, sets[j])
                if similarity < threshold:
                    continue
                known[pair] = similarity
            near[k] = True
        self.comparisons += computed
        return near

    def confirm_pairs(self, candidates: np.ndarray) -> list[tuple[int, int, float]]:
        """Candidate pairs (i < j) whose true shingle Jaccard reaches the threshold, as (i, j, jaccard)."""
        if not len(candidates):
            return []
        self._load(np.unique(candidates).tolist())
        sets, known, threshold = self._sets, self._near, self.threshold
        confirmed = []
        computed = 0
        for i, j in candidates.tolist():
            similarity = known.get((i, j))
            if similarity is None:
                computed += 1
                similarity = jaccard(sets[i], sets[j])
            if similarity >= threshold:
                confirmed.append((i, j, similarity))
        self.comparisons += computed
        return confirmed

    def _load(self, indices: Iterable[int]) -> None:
        missing = [i for i in dict.fromkeys(indices) if i not in self._sets]
        if missing:
            built = self._hasher.shingle_sets([self._texts[i] for i in missing])
            self._sets.update(zip(missing, built, strict=True))


def connected_components(n: int, edges: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Union-find over positions 0..n-1; components with more than one member, each sorted."""
    parent: dict[int, int] = {}  # only documents that have an edge: most have none

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving keeps the trees flat
            x = parent[x]
        return x

    for a, b in edges:
        if not (0 <= a < n and 0 <= b < n):
            raise ValueError(f"edge ({a}, {b}) outside 0..{n - 1}")
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in list(parent):
        groups.setdefault(root(x), []).append(x)
    return sorted(sorted(members) for members in groups.values() if len(members) > 1)


def _keep_key(rule: KeepRule, texts: Sequence[str], ids: Sequence[int]) -> Callable[[int], tuple[int, ...]]:
    if rule == "first":  # callers pass documents oldest first, so first is earliest
        return lambda i: (i,)
    if rule == "lowest_id":
        return lambda i: (ids[i], i)
    if rule == "longest":
        return lambda i: (-len(texts[i]), i)
    raise ValueError(f"unknown keep rule {rule!r}; use 'first', 'lowest_id' or 'longest'")


def _cluster(
    members: list[int], texts: Sequence[str], ids: Sequence[int], keep: KeepRule
) -> DuplicateCluster:
    kept = min(members, key=_keep_key(keep, texts, ids))
    return DuplicateCluster(kept=ids[kept], duplicates=tuple(ids[i] for i in sorted(members) if i != kept))


def _ids_or_positions(texts: Sequence[str], ids: Sequence[int] | None) -> Sequence[int]:
    if ids is None:
        return range(len(texts))
    if len(ids) != len(texts):
        raise ValueError("ids and texts must have the same length")
    return ids
