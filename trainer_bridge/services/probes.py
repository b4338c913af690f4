"""Refusal probe runs: a model version answers every question of a probe set N times; a judge grades each
answer (curation.probes); questions it never gets right become refusal tasks."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from core.errors import DomainError
from core.types import User
from curation.models import ProbeSet
from curation.probes import (
    SUGGESTED_REFUSAL,
    Judge,
    judge_named,
    outcome_verdict,
    probe_question_task,
    question_messages,
)
from labeling.models import TaskKind
from registry.models import ModelVersion
from trainer_bridge.jobs.lifecycle import Run
from trainer_bridge.models import JobStatus, JobType, ProbeAnswer, ProbeOutcome, ProbeRun
from trainer_bridge.services import sampling


@transaction.atomic
def probe_run_start(
    *,
    probe_set: ProbeSet,
    model_version: ModelVersion,
    samples: int = 8,
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    seed: int = 0,
    judge: str = "containment",
    user: User | None = None,
    dispatch: bool = True,
) -> ProbeRun:
    """Queue a probe run on the gpu queue (or only record it, with dispatch=False)."""
    judge_named(judge)
    return sampling.sampling_run_create(
        ProbeRun,
        JobType.PROBE,
        project=probe_set.project,
        model_version=model_version,
        samples=samples,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        user=user,
        dispatch=dispatch,
        items=probe_set.questions.count(),
        what=f"answers per question of {probe_set.name}",
        probe_set=probe_set,
        judge=judge,
    )


def probe_work(run: Run, job: ProbeRun) -> None:
    """Sample, grade and make refusal tasks; resumes where a lost worker stopped."""
    questions = list(job.probe_set.questions.order_by("line"))

    def store(question_id: int, texts: list[str]) -> None:
        ProbeAnswer.objects.bulk_create(
            [
                ProbeAnswer(run=job, question_id=question_id, sample_index=i, text=t)
                for i, t in enumerate(texts)
            ],
            ignore_conflicts=True,
        )

    sampling.sample_items(
        run,
        job,
        [sampling.Item(q.pk, question_messages(q)) for q in questions],
        done=sampling.items_done(ProbeAnswer.objects.filter(run=job), "question_id", job.samples),
        store=store,
    )
    verdicts = probe_run_grade(run=job)
    made = probe_refusal_tasks_create(run=job) if TaskKind.REFUSAL in job.project.task_kinds else 0
    run.finish(JobStatus.DONE, line=f"done: verdicts {verdicts}; {made} refusal tasks made")


@transaction.atomic
def probe_run_grade(*, run: ProbeRun, judge: Judge | None = None) -> dict[str, int]:
    """Grade every stored answer and record each question's outcome; returns the count per verdict."""
    judge = judge or judge_named(run.judge)
    questions = {q.pk: q for q in run.probe_set.questions.all()}
    answers = list(ProbeAnswer.objects.filter(run=run).order_by("question_id", "sample_index"))
    tally: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for answer in answers:
        answer.correct = bool(judge(answer.text, questions[answer.question_id]))
        tally[answer.question_id][0] += answer.correct
        tally[answer.question_id][1] += 1
    ProbeAnswer.objects.bulk_update(answers, ["correct"], batch_size=1000)
    verdicts: dict[str, int] = defaultdict(int)
    for question_id, (correct, total) in tally.items():
        verdict = outcome_verdict(correct, total)
        ProbeOutcome.objects.update_or_create(
            run=run,
            question_id=question_id,
            defaults={"correct": correct, "total": total, "verdict": verdict},
        )
        verdicts[verdict] += 1
    return dict(verdicts)


def _tasks_create(*, run: ProbeRun, verdict: str, kind: str) -> int:
    project = run.probe_set.project
    if kind not in project.task_kinds:
        raise DomainError(f"the project has no {kind} tasks; add the kind in its settings first")
    created = 0
    outcomes = ProbeOutcome.objects.filter(run=run, verdict=verdict, task__isnull=True).select_related(
        "question__probe_set"
    )
    for outcome in outcomes:
        q = outcome.question
        sampled = list(
            ProbeAnswer.objects.filter(run=run, question=q)
            .order_by("sample_index")
            .values_list("text", flat=True)[:3]
        )
        metadata: dict[str, Any] = {
            "probe": {
                "set": q.probe_set.name,
                "line": q.line,
                "run": run.pk,
                "model": run.model_name,
                "reference": q.reference,
                "correct": outcome.correct,
                "total": outcome.total,
                "sampled": sampled,
            }
        }
        if kind == TaskKind.REFUSAL:
            metadata["suggested_reply"] = SUGGESTED_REFUSAL
        outcome.task = probe_question_task(project=project, question=q, kind=kind, metadata=metadata)
        outcome.save(update_fields=["task"])
        created += 1
    return created


@transaction.atomic
def probe_refusal_tasks_create(*, run: ProbeRun) -> int:
    """A refusal task for every question the model got wrong in every sample; returns how many were linked."""
    return _tasks_create(run=run, verdict=ProbeOutcome.Verdict.WRONG, kind=TaskKind.REFUSAL)


@transaction.atomic
def probe_demonstration_tasks_create(*, run: ProbeRun) -> int:
    """A demonstration task for every question the model got right in every sample."""
    return _tasks_create(run=run, verdict=ProbeOutcome.Verdict.RIGHT, kind=TaskKind.DEMONSTRATION)


def probe_outcomes(*, run: ProbeRun) -> Sequence[ProbeOutcome]:
    return list(run.outcomes.select_related("question", "task").order_by("question__line"))
