"""Practice runs: a model version solves every problem of a practice set N times, each solution checked by
its verifier (curation.practice); the pass rates say how hard each problem is for that model.

Exports: the correct solutions as SFT rows (rejection sampling), correct-vs-incorrect solutions of one
problem as reward-model pairs, and the problems with their answers and verifiers for RL. The row
shapes are those of the snapshot exports.
"""

import math
from collections import defaultdict
from collections.abc import Iterator
from itertools import islice, product
from pathlib import Path
from typing import Any

from django.db import transaction

from core.errors import DomainError
from core.types import User
from curation.jsonl import write_jsonl
from curation.models import PracticeProblem, PracticeSet
from curation.practice import problem_messages, verify
from registry.models import ModelVersion
from trainer_bridge.jobs.lifecycle import Run
from trainer_bridge.models import JobStatus, JobType, PracticeResult, PracticeRun, PracticeSolution
from trainer_bridge.services import sampling


@transaction.atomic
def practice_run_start(
    *,
    practice_set: PracticeSet,
    model_version: ModelVersion,
    samples: int = 16,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    seed: int = 0,
    user: User | None = None,
    dispatch: bool = True,
) -> PracticeRun:
    """Queue a practice run on the gpu queue (or only record it, with dispatch=False)."""
    return sampling.sampling_run_create(
        PracticeRun,
        JobType.PRACTICE,
        project=practice_set.project,
        model_version=model_version,
        samples=samples,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        user=user,
        dispatch=dispatch,
        items=practice_set.problems.count(),
        what=f"solutions per problem of {practice_set.name}",
        practice_set=practice_set,
    )


def practice_work(run: Run, job: PracticeRun) -> None:
    """Sample, verify and store pass rates; resumes where a lost worker stopped."""
    problems = list(job.practice_set.problems.order_by("line"))

    def store(problem_id: int, texts: list[str]) -> None:
        PracticeSolution.objects.bulk_create(
            [
                PracticeSolution(run=job, problem_id=problem_id, sample_index=i, text=t)
                for i, t in enumerate(texts)
            ],
            ignore_conflicts=True,
        )

    sampling.sample_items(
        run,
        job,
        [sampling.Item(p.pk, problem_messages(p)) for p in problems],
        done=sampling.items_done(PracticeSolution.objects.filter(run=job), "problem_id", job.samples),
        store=store,
    )
    practice_run_verify(run=job)
    rates = list(job.results.values_list("pass_rate", flat=True))
    mean = sum(rates) / len(rates) if rates else math.nan
    run.finish(JobStatus.DONE, line=f"done: {len(rates)} problems, mean pass rate {mean:.3f}")


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
    if kind == "rl":
        return write_jsonl(path, practice_rl_rows(practice_set=practice_set, run=run))
    if kind not in ("sft", "rm"):
        raise DomainError(f"unknown export {kind!r}; expected sft, rm or rl", field="kind")
    if run is None:
        raise DomainError(f"a {kind} export needs a practice run")
    if kind == "sft":
        return write_jsonl(path, practice_sft_rows(run=run))
    return write_jsonl(path, practice_rm_pair_rows(run=run))
