"""Refusal probing: find the questions a model gets wrong again and again, and turn them into refusal tasks.

An admin uploads questions with reference answers; a probe run samples N answers per question from a
model version; a judge grades each answer against the reference. A question no sample gets right is
one the model does not know: it becomes a refusal task, where a labeler writes (or approves the
suggested) honest "I don't know" answer. A question every sample gets right may feed a normal
demonstration task.
"""

import re
import string
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.module_loading import import_string

from config.broker import enqueue
from core.errors import DomainError
from curation import sampling
from curation.jsonl import required_text
from curation.practice_models import ProbeAnswer, ProbeOutcome, ProbeQuestion, ProbeRun, ProbeSet
from labeling.conversation import content_hash
from labeling.importing import LineError, read_jsonl
from labeling.models import Project, Prompt, Task, TaskKind
from labeling.services.imports import ImportRejected

Judge = Callable[[str, ProbeQuestion], bool]

SUGGESTED_REFUSAL = "I'm not sure about this one, and I'd rather not guess: I don't know the answer."

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (the SQuAD normalization)."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _accepted(question: ProbeQuestion) -> list[str]:
    return [n for n in (normalize_answer(a) for a in [question.reference, *question.aliases]) if n]


def exact_judge(answer: str, question: ProbeQuestion) -> bool:
    """Right when the normalized answer equals the normalized reference or an alias."""
    return normalize_answer(answer) in _accepted(question)


def containment_judge(answer: str, question: ProbeQuestion) -> bool:
    """Right when the normalized reference (or an alias) appears in the normalized answer as whole words."""
    padded = f" {normalize_answer(answer)} "
    return any(f" {accepted} " in padded for accepted in _accepted(question))


JUDGES: dict[str, Judge] = {"exact": exact_judge, "containment": containment_judge}


def judge_named(name: str) -> Judge:
    """A built-in judge by name, or any callable(answer, question) -> bool by its dotted import path."""
    if name in JUDGES:
        return JUDGES[name]
    try:
        judge = import_string(name)
    except ImportError as exc:
        raise DomainError(f"no judge named {name!r}", field="judge") from exc
    if not callable(judge):
        raise DomainError(f"{name!r} is not callable", field="judge")
    return judge


# --- upload ----------------------------------------------------------------------------------------


def _question(number: int, record: dict[str, Any]) -> ProbeQuestion:
    aliases = record.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ValueError("'aliases' must be a list of strings")
    context = record.get("context", "")
    if not isinstance(context, str):
        raise ValueError("'context' must be a string")
    unknown = set(record) - {"question", "reference", "aliases", "context"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    return ProbeQuestion(
        line=number,
        question=required_text(record, "question"),
        reference=required_text(record, "reference"),
        aliases=[a.strip() for a in aliases if a.strip()],
        context=context.strip(),
    )


@transaction.atomic
def probe_set_upload(
    *, project: Project, name: str, stream: IO[bytes], uploaded_by: AbstractBaseUser
) -> ProbeSet:
    """Store a probe set from JSONL lines {"question", "reference", "aliases"?, "context"?}.

    Any bad line stores nothing; every bad line is reported with its number.
    """
    errors: list[LineError] = []
    questions = []
    for number, record in read_jsonl(stream, errors):
        try:
            questions.append(_question(number, record))
        except ValueError as exc:
            errors.append(LineError(number, str(exc)))
    if not questions and not errors:
        errors.append(LineError(1, "the file holds no questions"))
    if ProbeSet.objects.filter(project=project, name=name).exists():
        raise DomainError(f"a probe set named {name!r} exists in this project", field="name")
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: e.line))
    probe_set = ProbeSet.objects.create(project=project, name=name, uploaded_by=uploaded_by)
    for q in questions:
        q.probe_set = probe_set
    ProbeQuestion.objects.bulk_create(questions)
    return probe_set


# --- running ---------------------------------------------------------------------------------------


def question_messages(question: ProbeQuestion) -> list[dict[str, Any]]:
    content = f"{question.context}\n\n{question.question}" if question.context else question.question
    return [{"role": "user", "content": content}]


def probe_run_start(
    *,
    probe_set: ProbeSet,
    model_name: str,
    model_path: str,
    model_version_id: int | None = None,
    samples: int = 8,
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    seed: int = 0,
    judge: str = "containment",
    created_by: AbstractBaseUser | None = None,
    dispatch: bool = True,
) -> ProbeRun:
    """Queue a probe run on the gpu queue (or only record it, with dispatch=False)."""
    judge_named(judge)
    if not 1 <= samples <= 64:
        raise DomainError("samples must be between 1 and 64", field="samples")
    run = ProbeRun.objects.create(
        probe_set=probe_set,
        model_version_id=model_version_id,
        model_name=model_name,
        model_path=model_path,
        samples=samples,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        judge=judge,
        created_by=created_by,
        progress_total=probe_set.questions.count(),
    )
    if dispatch:
        from curation.tasks import gpu_probe

        transaction.on_commit(lambda: enqueue(gpu_probe, job=run, what="the run"))
    return run


def probe_run_execute(
    *, run_id: int, generate: sampling.Generate | None = None, on_progress: sampling.Progress | None = None
) -> None:
    """Sample, grade and make refusal tasks; safe to call again after a crash or a redelivery."""
    run = sampling.run_claim(ProbeRun, run_id)
    if run is None:
        return
    try:
        questions = list(run.probe_set.questions.order_by("line"))
        counts = defaultdict(int)
        for question_id in ProbeAnswer.objects.filter(run=run).values_list("question_id", flat=True):
            counts[question_id] += 1

        def store(question_id: int, texts: list[str]) -> None:
            ProbeAnswer.objects.bulk_create(
                [
                    ProbeAnswer(run=run, question_id=question_id, sample_index=i, text=t)
                    for i, t in enumerate(texts)
                ],
                ignore_conflicts=True,
            )

        sampling.sample_items(
            run,
            [sampling.Item(q.pk, question_messages(q)) for q in questions],
            done={pk for pk, n in counts.items() if n >= run.samples},
            store=store,
            generate=generate or sampling.model_generate(),
            on_progress=on_progress,
        )
        probe_run_grade(run=run)
        if TaskKind.REFUSAL in run.probe_set.project.task_kinds:
            probe_refusal_tasks_create(run=run)
    except Exception as exc:
        sampling.run_finish(run, error=f"{type(exc).__name__}: {exc}")
        raise
    sampling.run_finish(run)


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


def outcome_verdict(correct: int, total: int) -> str:
    if correct == 0:
        return ProbeOutcome.Verdict.WRONG
    if correct == total:
        return ProbeOutcome.Verdict.RIGHT
    return ProbeOutcome.Verdict.MIXED


def _task_for(*, project: Project, question: ProbeQuestion, kind: str, metadata: dict[str, Any]) -> Task:
    messages = question_messages(question)
    prompt, _ = Prompt.objects.get_or_create(
        project=project,
        content_hash=content_hash(messages),
        defaults={
            "messages": messages,
            "source": f"probe:{question.probe_set.name}"[:200],
            "metadata": metadata,
        },
    )
    task, _ = Task.objects.get_or_create(
        prompt=prompt,
        kind=kind,
        candidate_ids=[],
        defaults={"project": project, "required_count": project.overlap},
    )
    return task


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
        outcome.task = _task_for(project=project, question=q, kind=kind, metadata=metadata)
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
