"""Practice runs: a model version solves every problem of a practice set N times, each solution checked by
its verifier (curation.practice); the pass rates say how hard each problem is for that model.

What a run sampled is exported by the export jobs (`trainer_bridge.exports.practice`): the correct
solutions as SFT rows (rejection sampling), correct-vs-incorrect solutions of one problem as
reward-model pairs, and the problems with their pass rates for RL.
"""

import math
from collections import defaultdict

from django.db import transaction

from core.types import User
from curation.models import PracticeSet
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
