"""How far a labeler's reply moved from the model draft it started from: Levenshtein distances on
characters and on word tokens (rapidfuzz), over texts compared as the page saves them."""

from dataclasses import dataclass

import regex
from rapidfuzz.distance import Levenshtein

# A word is a run of letters, digits or underscores; each other visible character (punctuation, a symbol)
# is a token of its own, so "Paris." and "Paris!" are one substitution apart, not two different words.
_TOKEN = regex.compile(r"\w+|[^\w\s]")


def comparable(text: str) -> str:
    """A reply as it is compared: LF line endings (a browser's textarea sends CRLF), outer space trimmed,
    as the submit stores it."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def word_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class EditDistance:
    chars: int  # character insertions, deletions and substitutions
    words: int  # the same over word tokens
    word_share: float  # words over the longer text's token count: 0 kept as is, 1 rewritten throughout
    unchanged: bool  # the reply is the draft, character for character

    @classmethod
    def between(cls, draft: str, final: str) -> "EditDistance":
        draft, final = comparable(draft), comparable(final)
        draft_words, final_words = word_tokens(draft), word_tokens(final)
        words = Levenshtein.distance(draft_words, final_words)
        longest = max(len(draft_words), len(final_words))
        return cls(
            chars=Levenshtein.distance(draft, final),
            words=words,
            word_share=words / longest if longest else 0.0,
            unchanged=draft == final,
        )


def drafted_reply_index(messages: list[dict], *, chat: bool) -> int:
    """Where the reply that started from a model draft stands: the last message of a written reply; in a
    chat, the assistant's first answer (the draft answers the conversation's opening)."""
    if chat:
        for index, message in enumerate(messages):
            if message.get("role") == "assistant" and not message.get("tool_calls"):
                return index
    return len(messages) - 1
