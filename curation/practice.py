"""Verifiable practice sets: problems with a known final answer that a program checks.

This is the model-free part: practice sets, reading a final answer, the verifiers. A practice run (a
job, trainer_bridge.services.practice) samples many solutions per problem and verifies each here; a
problem's pass rate is its difficulty for that model.
"""

import logging
import math
import re
from fractions import Fraction
from typing import IO, Any

import regex
from django.db import transaction

from core.errors import DomainError
from core.types import User
from curation.jsonl import required_text
from curation.models import PracticeProblem, PracticeSet, Verifier
from curation.probes import normalize_answer
from labeling.importing import LineError, read_jsonl
from labeling.models import Project
from labeling.services.imports import ImportRejected

logger = logging.getLogger(__name__)

# An admin's pattern runs on model output thousands of times a run: a backtracking blow-up is cut off
# (the `regex` engine checks the limit as it goes) and counts as a wrong answer.
REGEX_SECONDS = 0.05

ANSWER_INSTRUCTION = "Finish with a last line of the form 'Answer: <final answer>'."
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_ANSWER_LINE = re.compile(r"(?:final answer|answer)\s*(?:is|:)\s*(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:\s*/\s*\d+)?")
_LETTER = re.compile(r"^\(?([A-Z])\)?(?:[.):]|\s|$)")


# --- reading and checking a final answer -----------------------------------------------------------


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


def verify(problem: PracticeProblem, solution: str) -> tuple[str, bool]:
    """(the final answer read from the solution, whether it is right)."""
    answer = final_answer(solution)
    options = problem.options
    if problem.verifier == Verifier.EXACT:
        return answer, normalize_answer(answer) == normalize_answer(problem.answer)
    if problem.verifier == Verifier.NUMERIC:
        got, want = parse_number(answer), float(problem.answer)
        if got is None:
            return answer, False
        tolerance = float(options.get("tolerance", 1e-6))
        if options.get("relative"):
            tolerance *= abs(want)
        return answer, math.isclose(got, want, rel_tol=0.0, abs_tol=tolerance)
    if problem.verifier == Verifier.REGEX:
        return answer, regex_verified(problem.answer, answer)
    if problem.verifier == Verifier.CHOICE:
        return answer, choice_letter(answer, options["choices"]) == problem.answer
    raise ValueError(f"unknown verifier {problem.verifier!r}")


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


def problem_messages(problem: PracticeProblem) -> list[dict[str, Any]]:
    content = problem.problem
    if problem.verifier == Verifier.CHOICE:
        content += "\n\n" + "\n".join(
            f"{letter}. {c}" for letter, c in zip(LETTERS, problem.options["choices"], strict=False)
        )
    return [{"role": "user", "content": f"{content}\n\n{ANSWER_INSTRUCTION}"}]


# --- upload ----------------------------------------------------------------------------------------


def _problem(number: int, record: dict[str, Any]) -> PracticeProblem:
    unknown = set(record) - {"problem", "answer", "verifier", "tolerance", "relative", "choices"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    kind = record.get("verifier", Verifier.EXACT)
    if kind not in Verifier.values:
        raise ValueError(f"'verifier' must be one of {Verifier.values}")
    answer = required_text(record, "answer")
    options: dict[str, Any] = {}
    if kind == Verifier.NUMERIC:
        try:
            float(answer)
        except ValueError:
            raise ValueError("a numeric answer must be a number") from None
        tolerance = record.get("tolerance", 1e-6)
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
            raise ValueError("'tolerance' must be a number of at least 0")
        options = {"tolerance": tolerance, "relative": bool(record.get("relative", False))}
    elif kind == Verifier.REGEX:
        try:
            regex.compile(answer)
        except regex.error as exc:
            raise ValueError(f"the answer is not a valid regular expression: {exc}") from None
    elif kind == Verifier.CHOICE:
        choices = record.get("choices")
        if not isinstance(choices, list) or not 2 <= len(choices) <= len(LETTERS):
            raise ValueError("'choices' must list 2 to 26 options")
        if not all(isinstance(c, str) and c.strip() for c in choices):
            raise ValueError("every choice must be a non-empty string")
        letter = choice_letter(answer, choices) if len(answer) > 1 else answer.upper()
        if letter is None or letter not in LETTERS[: len(choices)]:
            raise ValueError("the answer must be one of the choices (its letter or its text)")
        answer, options = letter, {"choices": [c.strip() for c in choices]}
    return PracticeProblem(
        line=number, problem=required_text(record, "problem"), answer=answer, verifier=kind, options=options
    )


@transaction.atomic
def practice_set_upload(*, project: Project, name: str, stream: IO[bytes], uploaded_by: User) -> PracticeSet:
    """Store problems from JSONL; any bad line stores nothing, and every bad line is reported.

    A line: {"problem", "answer", "verifier"?, "tolerance"?, "relative"?, "choices"?}.
    """
    errors: list[LineError] = []
    problems = []
    for number, record in read_jsonl(stream, errors):
        try:
            problems.append(_problem(number, record))
        except ValueError as exc:
            errors.append(LineError(number, str(exc)))
    if not problems and not errors:
        errors.append(LineError(1, "the file holds no problems"))
    if PracticeSet.objects.filter(project=project, name=name).exists():
        raise DomainError(f"a practice set named {name!r} exists in this project", field="name")
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: e.line))
    practice_set = PracticeSet.objects.create(project=project, name=name, uploaded_by=uploaded_by)
    for p in problems:
        p.practice_set = practice_set
    PracticeProblem.objects.bulk_create(problems)
    return practice_set
