"""Verifiable practice sets: problems with a known final answer that a program checks.

This is the model-free part: practice sets, their held-out split, and the verifiers
(`curation.verifiers`, which also go to other trainers as their reward function). A practice run (a
job, trainer_bridge.services.practice) samples many solutions per problem and verifies each here; a
problem's pass rate is its difficulty for that model.
"""

from typing import IO, Any

import regex
from django.db import transaction
from django.db.models import Count

from core.errors import DomainError
from core.types import User
from curation.jsonl import required_text
from curation.models import PracticeProblem, PracticeSet, PracticeSplit, Verifier
from curation.splits import split_for, text_key
from curation.verifiers import DEFAULT_TOLERANCE, LETTERS, check, choice_letter
from labeling.importing import LineError, read_jsonl
from labeling.models import Project
from labeling.services.imports import ImportRejected

ANSWER_INSTRUCTION = "Finish with a last line of the form 'Answer: <final answer>'."


def verify(problem: PracticeProblem, solution: str) -> tuple[str, bool]:
    """(the final answer read from the solution, whether it is right), by the problem's verifier."""
    return check(problem.verifier, problem.answer, problem.options, solution)


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
        tolerance = record.get("tolerance", DEFAULT_TOLERANCE)
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


# --- the held-out split ----------------------------------------------------------------------------

SEED_MAX = 2**63 - 1


def problem_split(problem: str, *, seed: int, validation_fraction: float) -> str:
    """A problem's split: a pure function of the seed and its normalized text, so copies go together."""
    return split_for(text_key(problem), seed=seed, validation_fraction=validation_fraction)


def split_counts(practice_set: PracticeSet) -> dict[str, int]:
    """How many problems each split holds, both splits named."""
    counts = dict(practice_set.problems.values_list("split").annotate(n=Count("id")).order_by())
    return {split: counts.get(split, 0) for split in PracticeSplit.values}


def _check_split(seed: Any, validation_fraction: Any) -> tuple[int, float]:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise DomainError(f"the seed is a whole number from 0 to {SEED_MAX}", field="seed")
    fraction = validation_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction < 1:
        raise DomainError(
            "the validation fraction is a number from 0 to below 1", field="validation_fraction"
        )
    return seed, float(fraction)


# --- upload ----------------------------------------------------------------------------------------


@transaction.atomic
def practice_set_upload(
    *,
    project: Project,
    name: str,
    stream: IO[bytes],
    uploaded_by: User,
    seed: int = 0,
    validation_fraction: float = 0.1,
) -> PracticeSet:
    """Store problems from JSONL, each with its held-out split; any bad line stores nothing, and every
    bad line is reported.

    A line: {"problem", "answer", "verifier"?, "tolerance"?, "relative"?, "choices"?}.
    """
    seed, validation_fraction = _check_split(seed, validation_fraction)
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
    practice_set = PracticeSet.objects.create(
        project=project,
        name=name,
        uploaded_by=uploaded_by,
        split_seed=seed,
        validation_fraction=validation_fraction,
    )
    for p in problems:
        p.practice_set = practice_set
        p.split = problem_split(p.problem, seed=seed, validation_fraction=validation_fraction)
    PracticeProblem.objects.bulk_create(problems)
    return practice_set
