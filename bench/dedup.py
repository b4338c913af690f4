"""Near-duplicate detection at scale: curation.minhash against datasketch on the same documents.

Seeds N short documents (~60 words, Zipf-distributed over a synthetic vocabulary) of which 1% are
near-duplicate copies of an earlier document (one word substituted, inserted or deleted, so every
injected pair has a word 5-gram Jaccard of at least 0.83). Measures, as the median of --runs runs:
sketching docs/s and whole-dedup docs/s (normalized exact hashes, MinHash, LSH, true-Jaccard
confirmation, clusters), then recall and precision on the injected pairs. datasketch (MinHash.bulk +
MinHashLSH, query-then-insert, same shingles, same threshold and num_perm) runs on a prefix of the
same documents when it would be too slow on all of them; its docs/s is then measured on that prefix,
and recall and precision count only the injected pairs inside it.

The figures are single-process and wall-clock: on a shared machine they are noisy.

    python bench/dedup.py --n 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# The repository root instead of bench/, whose queue.py would shadow the standard library module.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from curation.cleaning.minhash import MinHashConfig, MinHasher, connected_components, deduplicate, words  # noqa: E402

VOCABULARY = 50_000
WORDS_PER_DOC = 60
DUPLICATE_SHARE = 0.01
MAX_SOURCE_DISTANCE = 1_000  # a copy's source is at most this many documents earlier


def synthetic_vocabulary(rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(2, 10, size=VOCABULARY)
    return ["".join(rng.choice(letters, size=n)) + str(i) for i, n in enumerate(lengths)]


def make_corpus(n: int, seed: int) -> tuple[list[str], set[tuple[int, int]]]:
    """Documents and the injected near-duplicate pairs (source, copy), source < copy."""
    rng = np.random.default_rng(seed)
    vocabulary = synthetic_vocabulary(rng)
    word_ids = (rng.zipf(1.3, size=(n, WORDS_PER_DOC)) - 1) % VOCABULARY
    documents = word_ids.tolist()
    copies = rng.choice(np.arange(MAX_SOURCE_DISTANCE, n), size=int(n * DUPLICATE_SHARE), replace=False)
    pairs = set()
    for copy in sorted(copies.tolist()):
        source = copy - int(rng.integers(1, MAX_SOURCE_DISTANCE))
        documents[copy] = _one_edit(documents[source], rng)
        pairs.add((source, copy))
    texts = [" ".join(vocabulary[w] for w in doc) for doc in documents]
    return texts, pairs


def _one_edit(doc: list[int], rng: np.random.Generator) -> list[int]:
    edited = list(doc)
    position = int(rng.integers(0, len(edited)))
    word = int(rng.integers(0, VOCABULARY))
    match int(rng.integers(0, 3)):
        case 0:
            edited[position] = word
        case 1:
            edited.insert(position, word)
        case _:
            del edited[position]
    return edited


def shingle_jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = _shingles(a, n), _shingles(b, n)
    return len(sa & sb) / len(sa | sb)


def _shingles(text: str, n: int) -> set[str]:
    w = words(text)
    return {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}


def recall_precision(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> tuple[float, float]:
    """Recall on the injected pairs; precision counts a found pair right when both ends are linked by them.

    A copy of a copy makes the first source and the last copy near duplicates too, without an injected pair.
    """
    recall = len(found & truth) / max(len(truth), 1)
    cluster = {}
    for members in connected_components(max((b for _, b in truth), default=0) + 1, truth):
        cluster |= dict.fromkeys(members, members[0])
    right = sum(1 for a, b in found if a in cluster and cluster[a] == cluster.get(b))
    return recall, right / max(len(found), 1)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def coach_run(texts: Sequence[str], config: MinHashConfig) -> dict[str, Any]:
    sketch_s, _ = timed(lambda: MinHasher(config).sketch(texts))
    dedup_s, result = timed(lambda: deduplicate(texts, config=config))
    found = {(min(p.a, p.b), max(p.a, p.b)) for p in result.pairs}
    return {"sketch_s": sketch_s, "dedup_s": dedup_s, "found": found, "result": result}


def datasketch_run(texts: Sequence[str], config: MinHashConfig) -> dict[str, Any]:
    from datasketch import MinHash, MinHashLSH

    shingle_lists = None

    def sketch() -> list[Any]:
        nonlocal shingle_lists
        shingle_lists = [[s.encode() for s in _shingles(t, config.ngram)] for t in texts]
        return MinHash.bulk(shingle_lists, num_perm=config.num_perm)

    sketch_s, sketches = timed(sketch)

    def index_and_query() -> set[tuple[int, int]]:
        lsh = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
        found = set()
        for i, sketch_i in enumerate(sketches):
            for j in lsh.query(sketch_i):
                found.add((j, i))
            lsh.insert(i, sketch_i)
        return found

    lsh_s, found = timed(index_and_query)
    return {"sketch_s": sketch_s, "dedup_s": sketch_s + lsh_s, "found": found}


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="documents")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument(
        "--datasketch-n", type=int, default=50_000, help="prefix datasketch runs on (0: all documents)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = MinHashConfig(threshold=args.threshold)

    gen_s, (texts, pairs) = timed(lambda: make_corpus(args.n, args.seed))
    truth = {(a, b) for a, b in pairs if shingle_jaccard(texts[a], texts[b]) >= args.threshold}
    print(
        f"corpus: {len(texts)} documents, {len(pairs)} injected pairs "
        f"({len(truth)} at Jaccard >= {args.threshold}), generated in {gen_s:.1f} s",
        flush=True,
    )

    coach = []
    for run in range(args.runs):
        coach.append(coach_run(texts, config))
        r = coach[-1]
        print(
            f"coach run {run + 1}: sketch {len(texts) / r['sketch_s']:,.0f} docs/s, "
            f"dedup {len(texts) / r['dedup_s']:,.0f} docs/s",
            flush=True,
        )
    recall, precision = recall_precision(coach[-1]["found"], truth)

    ds_n = len(texts) if args.datasketch_n <= 0 else min(args.datasketch_n, len(texts))
    ds_texts = texts[:ds_n]
    ds_truth = {(a, b) for a, b in truth if b < ds_n}
    datasketch = []
    for run in range(args.runs):
        datasketch.append(datasketch_run(ds_texts, config))
        r = datasketch[-1]
        print(
            f"datasketch run {run + 1} on {ds_n} documents: sketch {ds_n / r['sketch_s']:,.0f} docs/s, "
            f"dedup {ds_n / r['dedup_s']:,.0f} docs/s",
            flush=True,
        )
    ds_recall, ds_precision = recall_precision(datasketch[-1]["found"], ds_truth)

    sketch_rate = summary([len(texts) / r["sketch_s"] for r in coach])
    dedup_rate = summary([len(texts) / r["dedup_s"] for r in coach])
    ds_sketch_rate = summary([ds_n / r["sketch_s"] for r in datasketch])
    ds_dedup_rate = summary([ds_n / r["dedup_s"] for r in datasketch])
    result = coach[-1]["result"]
    figures = {
        "n_docs": len(texts),
        "words_per_doc": WORDS_PER_DOC,
        "injected_pairs": len(truth),
        "threshold": args.threshold,
        "num_perm": config.num_perm,
        "ngram": config.ngram,
        "lsh_bands": result.bands,
        "lsh_rows": result.rows,
        "runs": args.runs,
        "sketch_docs_per_s": sketch_rate,
        "dedup_docs_per_s": dedup_rate,
        "recall": round(recall, 4),
        "precision": round(precision, 4),
        "candidate_pairs": result.candidate_pairs,
        "datasketch_docs": ds_n,
        "datasketch_extrapolated_from_prefix": ds_n < len(texts),
        "datasketch_sketch_docs_per_s": ds_sketch_rate,
        "datasketch_dedup_docs_per_s": ds_dedup_rate,
        "datasketch_recall": round(ds_recall, 4),
        "datasketch_precision_unconfirmed": round(ds_precision, 4),
        "speedup_sketch_vs_datasketch": round(sketch_rate["median"] / ds_sketch_rate["median"], 2),
        "speedup_dedup_vs_datasketch": round(dedup_rate["median"] / ds_dedup_rate["median"], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "note": "one process, wall clock, shared machine: noisy",
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
