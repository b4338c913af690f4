"""Refusal probing, the model-free part: probe sets, judges, verdicts, and the tasks a verdict makes.

An admin uploads questions with reference answers; a probe run samples N answers per question from a
model version; a judge grades each answer against the reference. A question no sample gets right is
one the model does not know: it becomes a refusal task, where a labeler writes (or approves the
suggested) honest "I don't know" answer. A question every sample gets right may feed a normal
demonstration task. The runs that sample answers are jobs (trainer_bridge.services.probes).
"""

from collections.abc import Callable
from typing import IO, Any

from django.db import transaction
from django.utils.module_loading import import_string

from core.errors import DomainError
from core.types import User
from curation.jsonl import required_text
from curation.models import ProbeQuestion, ProbeSet
from curation.verifiers import normalize_answer
from labeling.conversation import content_hash
from labeling.importing import LineError, read_jsonl
from labeling.models import Project, Prompt, Task
from labeling.services.imports import ImportRejected

Judge = Callable[[str, ProbeQuestion], bool]

SUGGESTED_REFUSAL = "I'm not sure about this one, and I'd rather not guess: I don't know the answer."


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
def probe_set_upload(*, project: Project, name: str, stream: IO[bytes], uploaded_by: User) -> ProbeSet:
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


def question_messages(question: ProbeQuestion) -> list[dict[str, Any]]:
    content = f"{question.context}\n\n{question.question}" if question.context else question.question
    return [{"role": "user", "content": content}]


def outcome_verdict(correct: int, total: int) -> str:
    if correct == 0:
        return "wrong"
    if correct == total:
        return "right"
    return "mixed"


def probe_question_task(
    *, project: Project, question: ProbeQuestion, kind: str, metadata: dict[str, Any]
) -> Task:
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
