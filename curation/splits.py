"""Train/validation split by prompt: near-identical prompt texts share a group, and a group one split.

The split of a group is a pure function of (seed, group key), so it never depends on which other
prompts a snapshot holds, and re-freezing the same selection gives the same split. A snapshot freeze
also puts the near copies that dedup clustered under their kept prompt's key (curation.snapshots).
"""

import hashlib
import re
import unicodedata
from typing import Any

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
    return hashlib.sha256(normalize_text(prompt_text(messages)).encode()).hexdigest()[:32]


def split_for(group_key: str, *, seed: int, validation_fraction: float) -> str:
    """Deterministic split of a prompt group: a seeded hash mapped to [0, 1)."""
    if validation_fraction <= 0:
        return TRAIN
    digest = hashlib.sha256(f"{seed}:{group_key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    return VALIDATION if point < validation_fraction else TRAIN
