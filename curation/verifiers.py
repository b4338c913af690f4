"""The practice-set verifiers: read a solution's final answer and check it (exact, numeric, regex, choice).

This file stands alone (the standard library and the `regex` package, no Django), because it is also
the reward function handed to other trainers with Coach's exports: copy it next to the data and point
verl at `compute_score` (`custom_reward_function.path`) or OpenRLHF at `reward_func`
(`--remote_rm_url`). Coach's own practice runs check their solutions with the same `check`.
"""

import json
import logging
import math
import re
import string
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import regex

logger = logging.getLogger(__name__)

VERIFIERS = ("exact", "numeric", "regex", "choice")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DEFAULT_TOLERANCE = 1e-6
# An admin's pattern runs on model output thousands of times a run: a backtracking blow-up is cut off
# (the `regex` engine checks the limit as it goes) and counts as a wrong answer.
REGEX_SECONDS = 0.05

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_ANSWER_LINE = re.compile(r"(?:final answer|answer)\s*(?:is|:)\s*(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:\s*/\s*\d+)?")
_LETTER = re.compile(r"^\(?([A-Z])\)?(?:[.):]|\s|$)")
# What a trainer may leave on a decoded response: chat-template end markers such as <|im_end|> or </s>.
_SPECIAL_TOKENS = re.compile(r"<\|[^|<>]*\|>|</s>|<eos>")


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (the SQuAD normalization)."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def final_answer(text: str) -> str:
    """A solution's answer: the last \\boxed{}, else the last 'Answer: …', else the last line."""
    if boxed := _BOXED.findall(text):
        return boxed[-1].strip()
    if stated := _ANSWER_LINE.findall(text):
        return stated[-1].strip()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def parse_number(text: str) -> float | None:
    """The last number in the text (commas, exponents and a/b fractions understood), or None."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    token = found[-1].replace(",", "").replace(" ", "")
    try:
        return float(Fraction(token)) if "/" in token else float(token)
    except (ValueError, ZeroDivisionError):
        return None


def choice_letter(text: str, choices: list[str]) -> str | None:
    """The option a final answer picks: a leading letter ('B', '(B)', 'B.') or an option's own text."""
    stripped = text.strip()
    if (match := _LETTER.match(stripped)) and LETTERS.index(match[1]) < len(choices):
        return match[1]
    normalized = normalize_answer(stripped)
    for letter, choice in zip(LETTERS, choices, strict=False):
        if normalized and normalized == normalize_answer(choice):
            return letter
    return None


def regex_verified(pattern: str, answer: str) -> bool:
    """Whether the whole answer matches; a match that runs past REGEX_SECONDS is logged and wrong."""
    try:
        return regex.fullmatch(pattern, answer, timeout=REGEX_SECONDS) is not None
    except TimeoutError:
        logger.warning(
            "regex verifier stopped after %.2f s on a %d-character answer: %.80r",
            REGEX_SECONDS,
            len(answer),
            pattern,
        )
        return False


def check(verifier: str, answer: str, options: Mapping[str, Any], solution: str) -> tuple[str, bool]:
    """(the final answer read from the solution, whether it is right).

    `answer` is the problem's answer (a pattern for regex, the right letter for choice); `options`
    holds `tolerance` and `relative` (numeric) or `choices` (choice). A missing or null option takes
    its default, so the options may come from a Parquet struct whose other rows have other fields.
    """
    read = final_answer(solution)
    if verifier == "exact":
        return read, normalize_answer(read) == normalize_answer(answer)
    if verifier == "numeric":
        got, want = parse_number(read), float(answer)
        if got is None:
            return read, False
        tolerance = options.get("tolerance")
        tolerance = DEFAULT_TOLERANCE if tolerance is None else float(tolerance)
        if options.get("relative"):
            tolerance *= abs(want)
        return read, math.isclose(got, want, rel_tol=0.0, abs_tol=tolerance)
    if verifier == "regex":
        return read, regex_verified(answer, read)
    if verifier == "choice":
        choices = options.get("choices")  # a list, or an array where a reader of Parquet made one
        return read, choice_letter(read, [] if choices is None else [str(c) for c in choices]) == answer
    raise ValueError(f"unknown verifier {verifier!r}")


# --- the same checks as other trainers' reward functions -----------------------------------------


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str,
    extra_info: Mapping[str, Any] | None = None,
    **_: Any,
) -> float:
    """verl's reward function: 1.0 for a right final answer, else 0.0.

    The row's `reward_model.ground_truth` is the answer, and its `extra_info` names the verifier and
    its options (Coach's verl export writes both).
    """
    info = extra_info or {}
    return _score(str(info.get("verifier") or "exact"), ground_truth, info, solution_str)


def reward_func(queries: list[str], prompts: list[str], labels: list[str], **_: Any) -> dict[str, Any]:
    """OpenRLHF's reward function: `labels` are the JSON `label` fields of Coach's OpenRLHF export.

    `queries` are the prompts with the responses; only the response is checked, with chat-template
    markers removed.
    """
    import torch  # only on the trainer's machine, where OpenRLHF runs

    scores = []
    for query, prompt, label in zip(queries, prompts, labels, strict=True):
        spec = json.loads(label)
        response = query[len(prompt) :] if query.startswith(prompt) else query
        scores.append(_score(spec["verifier"], spec["answer"], spec, _SPECIAL_TOKENS.sub("", response)))
    rewards = torch.tensor(scores, dtype=torch.float)
    return {"rewards": rewards, "scores": rewards, "extra_logs": {"verified": rewards.mean()}}


def _score(verifier: str, answer: str, options: Mapping[str, Any], solution: str) -> float:
    try:
        return 1.0 if check(verifier, answer, options, solution)[1] else 0.0
    except (ValueError, TypeError):  # a malformed row scores 0 and says so, rather than stopping a run
        logger.warning("could not verify against %r with the %r verifier", answer, verifier)
        return 0.0
