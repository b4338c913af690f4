"""Train/validation split by prompt: near-identical prompt texts share a group, and a group one split.

Prompts whose normalized text is equal share a group key. A snapshot freeze also finds the near
copies among the prompts it selects (`group_prompts`: the deduplicator of curation.cleaning at the
project's near-duplicate threshold), and each cluster, with every prompt that shares a key with one
of its members, takes the key of its oldest prompt. The split of a group is a pure function of
(seed, group key), and re-freezing the same selection gives the same split.
"""

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from curation.cleaning.minhash import MinHashConfig, connected_components, deduplicate, words

TRAIN = "train"
VALIDATION = "validation"
SPLITS = (TRAIN, VALIDATION)

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """Every turn's text of a prompt conversation (system, user, earlier assistant turns), in order."""
    return "\n".join(str(m.get("content") or "") for m in messages)


def normalize_text(text: str) -> str:
    """Lowercase, compatibility-fold, and collapse every run of whitespace or punctuation to one space."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_WORD.sub(" ", folded).strip()


def prompt_group_key(messages: list[dict[str, Any]]) -> str:
    """Prompts whose normalized text is equal share this key (and therefore a split)."""
    return text_key(prompt_text(messages))


def text_key(text: str) -> str:
    """Texts whose normalized form is equal share this key."""
    return hashlib.sha256(normalize_text(text).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PromptGroups:
    """The group key of each prompt, and what the near-copy search found."""

    group_of: dict[int, str]  # prompt id → group key
    threshold: float
    ngram: int
    clusters: int  # clusters of near copies (exact copies included) of two prompts or more
    prompts_in_clusters: int
    largest_cluster: int


def group_prompts(prompts: Iterable[tuple[int, list[dict[str, Any]]]], *, threshold: float) -> PromptGroups:
    """Group prompts (id and messages, oldest first) by normalized text and by near copies of their text.

    Near copies are pairs whose word n-gram sets reach `threshold` Jaccard similarity, found by
    `curation.cleaning.minhash.deduplicate` over `prompt_text`. A group takes the key of its oldest
    prompt, so a prompt whose text equals a near copy's (once normalized) goes with it too.
    """
    ids: list[int] = []
    keys: list[str] = []
    texts: list[str] = []
    for prompt_id, messages in prompts:  # one pass: the messages themselves are not kept
        text = prompt_text(messages)
        ids.append(prompt_id)
        keys.append(text_key(text))
        texts.append(text)
    config = MinHashConfig(threshold=threshold)
    # A text of fewer words than a shingle is one shingle, equal only to the same words in the same
    # order: the normalized key already groups those. Leaving them out of the search also keeps clear
    # of minhash.ngram_hashes, which fails on a batch of fewer than ngram - 1 words in all.
    searched = [position for position, text in enumerate(texts) if len(words(text)) >= config.ngram]
    found = deduplicate([texts[position] for position in searched], ids=searched, config=config)
    links = [(cluster.kept, duplicate) for cluster in found.clusters for duplicate in cluster.duplicates]
    oldest_with_key: dict[str, int] = {}
    for position, key in enumerate(keys):
        if (oldest := oldest_with_key.setdefault(key, position)) != position:
            links.append((oldest, position))
    group_of = dict(zip(ids, keys, strict=True))
    for members in connected_components(len(ids), links):  # positions, each component sorted
        for position in members:
            group_of[ids[position]] = keys[members[0]]
    sizes = [len(cluster.members) for cluster in found.clusters]
    return PromptGroups(
        group_of=group_of,
        threshold=threshold,
        ngram=config.ngram,
        clusters=len(sizes),
        prompts_in_clusters=sum(sizes),
        largest_cluster=max(sizes, default=0),
    )


def split_for(group_key: str, *, seed: int, validation_fraction: float) -> str:
    """Deterministic split of a prompt group: a seeded hash mapped to [0, 1)."""
    if validation_fraction <= 0:
        return TRAIN
    digest = hashlib.sha256(f"{seed}:{group_key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    return VALIDATION if point < validation_fraction else TRAIN
