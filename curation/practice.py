"""Verifiable practice sets: problems with a known final answer that a program checks.

A practice run samples many solutions per problem from a model version and verifies each; a problem's
pass rate is its difficulty for that model. Exports: the correct solutions as SFT rows (rejection
sampling), correct-vs-incorrect solutions of one problem as reward-model pairs, and the problems with
their answers and verifiers for RL. The row shapes are those of trainer_bridge's snapshot exports.
"""

import math
import re
from collections import defaultdict
from collections.abc import Iterator
from fractions import Fraction
from itertools import islice, product
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from config.broker import enqueue
from core.errors import DomainError
from curation import sampling
from curation.jsonl import required_text, write_jsonl
from curation.practice_models import (
    PracticeProblem,
    PracticeResult,
    PracticeRun,
    PracticeSet,
    PracticeSolution,
    Verifier,
)
from curation.probing import normalize_answer
from labeling.importing import LineError, read_jsonl
from labeling.models import Project
from labeling.services.imports import ImportRejected

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
        return answer, re.fullmatch(problem.answer, answer) is not None
    if problem.verifier == Verifier.CHOICE:
        return answer, choice_letter(answer, options["choices"]) == problem.answer
    raise ValueError(f"unknown verifier {problem.verifier!r}")


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
            re.compile(answer)
        except re.error as exc:
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
def practice_set_upload(
    *, project: Project, name: str, stream: IO[bytes], uploaded_by: AbstractBaseUser
) -> PracticeSet:
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


# --- running ---------------------------------------------------------------------------------------


def practice_run_start(
    *,
    practice_set: PracticeSet,
    model_name: str,
    model_path: str,
    model_version_id: int | None = None,
    samples: int = 16,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    seed: int = 0,
    created_by: AbstractBaseUser | None = None,
    dispatch: bool = True,
) -> PracticeRun:
    """Queue a practice run on the gpu queue (or only record it, with dispatch=False)."""
    if not 1 <= samples <= 64:
        raise DomainError("samples must be between 1 and 64", field="samples")
    run = PracticeRun.objects.create(
        practice_set=practice_set,
        model_version_id=model_version_id,
        model_name=model_name,
        model_path=model_path,
        samples=samples,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        created_by=created_by,
        progress_total=practice_set.problems.count(),
    )
    if dispatch:
        from curation.tasks import gpu_practice

        transaction.on_commit(lambda: enqueue(gpu_practice, job=run, what="the run"))
    return run


def practice_run_execute(
    *, run_id: int, generate: sampling.Generate | None = None, on_progress: sampling.Progress | None = None
) -> None:
    """Sample, verify and store pass rates; safe to call again after a crash or a redelivery."""
    run = sampling.run_claim(PracticeRun, run_id)
    if run is None:
        return
    try:
        problems = list(run.practice_set.problems.order_by("line"))
        counts: dict[int, int] = defaultdict(int)
        for problem_id in PracticeSolution.objects.filter(run=run).values_list("problem_id", flat=True):
            counts[problem_id] += 1

        def store(problem_id: int, texts: list[str]) -> None:
            PracticeSolution.objects.bulk_create(
                [
                    PracticeSolution(run=run, problem_id=problem_id, sample_index=i, text=t)
                    for i, t in enumerate(texts)
                ],
                ignore_conflicts=True,
            )

        sampling.sample_items(
            run,
            [sampling.Item(p.pk, problem_messages(p)) for p in problems],
            done={pk for pk, n in counts.items() if n >= run.samples},
            store=store,
            generate=generate or sampling.model_generate(),
            on_progress=on_progress,
        )
        practice_run_verify(run=run)
    except Exception as exc:
        sampling.run_finish(run, error=f"{type(exc).__name__}: {exc}")
        raise
    sampling.run_finish(run)


@transaction.atomic
def practice_run_verify(*, run: PracticeRun) -> None:
    """Verify every stored solution and store each problem's pass rate."""
    problems = {p.pk: p for p in run.practice_set.problems.all()}
    solutions = list(PracticeSolution.objects.filter(run=run))
    tally: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for solution in solutions:
        solution.final_answer, solution.correct = verify(problems[solution.problem_id], solution.text)
        tally[solution.problem_id][0] += solution.correct
        tally[solution.problem_id][1] += 1
    PracticeSolution.objects.bulk_update(solutions, ["final_answer", "correct"], batch_size=1000)
    for problem_id, (passed, total) in tally.items():
        PracticeResult.objects.update_or_create(
            run=run,
            problem_id=problem_id,
            defaults={"passed": passed, "total": total, "pass_rate": passed / total},
        )


# --- exports ---------------------------------------------------------------------------------------


def _solutions_by_problem(run: PracticeRun) -> Iterator[tuple[PracticeProblem, list[str], list[str]]]:
    """(problem, distinct correct solutions, distinct incorrect solutions), in problem order."""
    right: dict[int, list[str]] = defaultdict(list)
    wrong: dict[int, list[str]] = defaultdict(list)
    rows = PracticeSolution.objects.filter(run=run, correct__isnull=False).order_by(
        "problem_id", "sample_index"
    )
    for problem_id, text, correct in rows.values_list("problem_id", "text", "correct"):
        bucket = right if correct else wrong
        if text.strip() and text not in bucket[problem_id]:
            bucket[problem_id].append(text)
    for problem in run.practice_set.problems.order_by("line"):
        yield problem, right[problem.pk], wrong[problem.pk]


def practice_sft_rows(*, run: PracticeRun, per_problem: int | None = None) -> Iterator[dict[str, Any]]:
    """Rejection sampling: each distinct correct solution as an SFT conversation."""
    for problem, right, _ in _solutions_by_problem(run):
        for text in right[:per_problem]:
            yield {"messages": [*problem_messages(problem), {"role": "assistant", "content": text}]}


def practice_rm_pair_rows(*, run: PracticeRun, per_problem: int = 4) -> Iterator[dict[str, Any]]:
    """Reward-model pairs: a correct solution chosen over an incorrect one to the same problem."""
    for problem, right, wrong in _solutions_by_problem(run):
        for chosen, rejected in islice(product(right, wrong), per_problem):
            yield {
                "prompt": problem_messages(problem),
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
            }


def practice_rl_rows(
    *, practice_set: PracticeSet, run: PracticeRun | None = None
) -> Iterator[dict[str, Any]]:
    """Problems with answers and verifiers, for RL with a verifiable reward; with a run, its pass rates."""
    rates = dict(run.results.values_list("problem_id", "pass_rate")) if run is not None else {}
    for problem in practice_set.problems.order_by("line"):
        row: dict[str, Any] = {
            "prompt": problem_messages(problem),
            "answer": problem.answer,
            "verifier": problem.verifier,
            "options": problem.options,
        }
        if problem.pk in rates:
            row["pass_rate"] = rates[problem.pk]
        yield row


def practice_export(*, kind: str, path: Path, practice_set: PracticeSet, run: PracticeRun | None) -> int:
    """Write one export as JSONL (whole or not at all); returns the number of rows."""
    if kind in ("sft", "rm") and run is None:
        raise DomainError(f"a {kind} export needs a practice run")
    if kind == "sft":
        return write_jsonl(path, practice_sft_rows(run=run))
    if kind == "rm":
        return write_jsonl(path, practice_rm_pair_rows(run=run))
    if kind == "rl":
        return write_jsonl(path, practice_rl_rows(practice_set=practice_set, run=run))
    raise DomainError(f"unknown export {kind!r}; expected sft, rm or rl", field="kind")
