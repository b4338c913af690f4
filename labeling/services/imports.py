"""Imports of prompts and candidates, and the tasks they make: a file with any bad line imports nothing."""

import logging
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import IO, Any

from celery import current_app
from django.db import transaction
from django.db.models import Q
from kombu.exceptions import OperationalError as BrokerUnavailable

from core.errors import DomainError
from labeling import importing
from labeling.bulk import copy_insert
from labeling.importing import LineError
from labeling.models import (
    Candidate,
    Project,
    Prompt,
    ReplyDraftSettings,
    Task,
    TaskKind,
)
from labeling.selectors.model_drafts import DRAFTED_KINDS
from labeling.services.evaluation import evaluation_tasks_create
from registry.models import ModelVersion

log = logging.getLogger(__name__)


class ImportRejected(DomainError):
    """A file with any bad line imports nothing; every bad line is reported."""

    code = "import_rejected"

    def __init__(self, errors: list[LineError]):
        shown = errors[: importing.MAX_REPORTED_ERRORS]
        lines = [{"line": e.line, "reason": e.reason} for e in shown]
        super().__init__(
            f"{len(errors)} bad line(s); nothing was imported",
            field="file",
            extra={"lines": lines, "total_errors": len(errors)},
        )
        self.errors = errors


@dataclass
class ImportResult:
    created: int = 0
    unchanged: int = 0
    tasks_created: int = 0
    details: dict[str, Any] = field(default_factory=dict)


# Tasks of these kinds are made once the answers they show exist (K candidates; two versions' answers).
KINDS_MADE_FROM_ANSWERS = (TaskKind.RANKING, TaskKind.EVALUATION)


def _kind_mark(row_kind: str | None, default_kind: str) -> dict[str, str]:
    """The kind a prompt was imported for, kept in its metadata when the row names it, and always for
    evaluation prompts: their answers are for comparing versions and never make a ranking task."""
    kind = row_kind or (default_kind if default_kind == TaskKind.EVALUATION else None)
    return {"task_kind": kind} if kind else {}


@transaction.atomic
def prompts_import(
    *, project: Project, stream: IO[bytes], fmt: str, task_kind: str | None = None
) -> ImportResult:
    """Import prompts; creates their tasks (ranking tasks wait for K candidates)."""
    default_kind = task_kind or (
        TaskKind.RANKING if TaskKind.RANKING in project.task_kinds else project.task_kinds[0]
    )
    if default_kind not in project.task_kinds:
        raise DomainError(f"task_kind {default_kind!r} is not one of this project's kinds", field="task_kind")
    parsed = importing.parse_prompt_file(stream, fmt, allowed_kinds=project.task_kinds)
    existing = dict(
        Prompt.objects.filter(
            project=project, external_id__in=[r.external_id for r in parsed.rows if r.external_id]
        ).values_list("external_id", "content_hash")
    )
    for row in parsed.rows:
        if row.external_id in existing and existing[row.external_id] != row.content_hash:
            parsed.errors.append(
                LineError(row.line, f"external_id {row.external_id!r} exists with other content")
            )
    if parsed.errors:
        raise ImportRejected(sorted(parsed.errors, key=lambda e: e.line))

    created = copy_insert(
        Prompt,
        [
            {
                "project_id": project.pk,
                "messages": r.messages,
                "content_hash": r.content_hash,
                "external_id": r.external_id,
                "source": r.source,
                "metadata": r.metadata | _kind_mark(r.task_kind, default_kind),
            }
            for r in parsed.rows
        ],
    )
    kinds = {r.content_hash: r.task_kind or default_kind for r in parsed.rows}
    prompt_ids = dict(
        Prompt.objects.filter(project=project, content_hash__in=list(kinds)).values_list("content_hash", "id")
    )
    tasks = [
        {
            "project_id": project.pk,
            "prompt_id": prompt_ids[h],
            "kind": kind,
            "required_count": project.overlap,
        }
        for h, kind in kinds.items()
        if kind not in KINDS_MADE_FROM_ANSWERS
    ]
    tasks_created = copy_insert(Task, tasks)
    if any(t["kind"] in DRAFTED_KINDS for t in tasks):
        reply_drafts_request(project=project)
    ranking_prompts = [prompt_ids[h] for h, kind in kinds.items() if kind == TaskKind.RANKING]
    ranking_created = ranking_tasks_create(project=project, prompt_ids=ranking_prompts)
    return ImportResult(
        created=created,
        unchanged=len(parsed.rows) - created,
        tasks_created=ranking_created + tasks_created,
    )


@transaction.atomic
def candidates_import(*, project: Project, stream: IO[bytes], fmt: str) -> ImportResult:
    parsed = importing.parse_candidate_file(stream, fmt)
    prompt_ids = dict(
        Prompt.objects.filter(
            project=project, external_id__in={r.prompt_external_id for r in parsed.rows}
        ).values_list("external_id", "id")
    )
    next_index: dict[tuple[int, str], int] = defaultdict(int)
    keyed: dict[tuple[int, str, int], importing.CandidateRow] = {}
    for row in parsed.rows:
        prompt_id = prompt_ids.get(row.prompt_external_id)
        if prompt_id is None:
            parsed.errors.append(
                LineError(row.line, f"no prompt with external_id {row.prompt_external_id!r}")
            )
            continue
        index = row.sample_index if row.sample_index is not None else next_index[(prompt_id, row.model_name)]
        next_index[(prompt_id, row.model_name)] = max(next_index[(prompt_id, row.model_name)], index + 1)
        key = (prompt_id, row.model_name, index)
        if key in keyed and keyed[key].text != row.text:
            parsed.errors.append(
                LineError(
                    row.line, f"sample {index} of model {row.model_name!r} appears twice with other text"
                )
            )
        keyed[key] = row
    stored = {
        (c.prompt_id, c.model_name, c.sample_index): c.text
        for c in Candidate.objects.filter(prompt_id__in=prompt_ids.values()).only(
            "prompt_id", "model_name", "sample_index", "text"
        )
    }
    for key, row in keyed.items():
        if key in stored and stored[key] != row.text:
            parsed.errors.append(
                LineError(row.line, f"sample {key[2]} of model {key[1]!r} exists with other text")
            )
    if parsed.errors:
        raise ImportRejected(sorted(parsed.errors, key=lambda e: e.line))

    versions = registered_versions(project=project, names={m for _, m, _ in keyed})
    new = [
        {
            "prompt_id": p,
            "model_name": m,
            "model_version_id": versions.get(m),
            "sample_index": i,
            "text": r.text,
            "sampling_params": r.sampling_params,
        }
        for (p, m, i), r in keyed.items()
        if (p, m, i) not in stored
    ]
    copy_insert(Candidate, new)
    prompts = sorted({p for p, _, _ in keyed})
    tasks = ranking_tasks_create(project=project, prompt_ids=prompts)
    tasks += evaluation_tasks_create(project=project, prompt_ids=prompts)
    return ImportResult(created=len(new), unchanged=len(keyed) - len(new), tasks_created=tasks)


def registered_versions(*, project: Project, names: set[str]) -> dict[str, int]:
    """Imported answers that name a model version the project may use (its own or a shared base model), by
    its name or as `name@id`, are linked to it, so that they can be compared in a blind evaluation."""
    found: dict[str, int] = {}
    usable = ModelVersion.objects.filter(Q(project=project) | Q(project__isnull=True))
    for pk, name in usable.values_list("pk", "name"):
        for label in (name, f"{name}@{pk}"):
            if label in names:
                found[label] = pk
    return found


@transaction.atomic
def candidates_add(
    *,
    prompt: Prompt,
    texts: list[str],
    model_name: str,
    sampling_params: dict[str, Any],
    model_version_id: int | None = None,
    first_index: int = 0,
) -> int:
    """Store generated samples; a retried batch hits the unique key and adds nothing twice."""
    rows = [
        Candidate(
            prompt=prompt,
            text=t,
            model_name=model_name,
            model_version_id=model_version_id,
            sample_index=first_index + i,
            sampling_params=sampling_params,
        )
        for i, t in enumerate(texts)
    ]
    Candidate.objects.bulk_create(rows, ignore_conflicts=True)
    evaluation_tasks_create(project=prompt.project, prompt_ids=[prompt.pk])
    return ranking_tasks_create(project=prompt.project, prompt_ids=[prompt.pk])


def ranking_tasks_create(*, project: Project, prompt_ids: list[int]) -> int:
    """Create a ranking task for each prompt that has K candidates and no ranking task yet."""
    if TaskKind.RANKING not in project.task_kinds or not prompt_ids:
        return 0
    has_task = set(
        Task.objects.filter(prompt_id__in=prompt_ids, kind=TaskKind.RANKING).values_list(
            "prompt_id", flat=True
        )
    )
    # An evaluation prompt's answers are there to compare model versions, not to be ranked.
    evaluation_only = set(
        Prompt.objects.filter(pk__in=prompt_ids, metadata__task_kind=TaskKind.EVALUATION).values_list(
            "pk", flat=True
        )
    )
    wanted = [p for p in prompt_ids if p not in has_task and p not in evaluation_only]
    by_prompt: dict[int, list[int]] = defaultdict(list)
    for prompt_id, candidate_id in (
        Candidate.objects.filter(prompt_id__in=wanted)
        .order_by("prompt_id", "model_name", "sample_index")
        .values_list("prompt_id", "id")
    ):
        by_prompt[prompt_id].append(candidate_id)
    tasks = []
    for prompt_id, ids in by_prompt.items():
        if len(ids) < project.k:
            continue
        shown = ids[: project.k]
        random.Random(prompt_id).shuffle(shown)  # a fixed order per prompt, so position carries no signal
        tasks.append(
            {
                "project_id": project.pk,
                "prompt_id": prompt_id,
                "kind": TaskKind.RANKING,
                "candidate_ids": shown,
                "required_count": project.overlap,
            }
        )
    return copy_insert(Task, tasks)


def reply_drafts_request(*, project: Project) -> None:
    """Once the import commits, ask the job system to draft the new tasks' replies, when the project's
    model drafts are on. The message names the task (trainer_bridge's) instead of importing it; if the
    broker is down, the beat's round a minute later starts the drafting instead."""
    if not ReplyDraftSettings.objects.filter(project=project, enabled=True).exists():
        return

    def send() -> None:
        try:
            current_app.send_task("trainer_bridge.tasks.reply_drafts_schedule", args=[project.pk])
        except BrokerUnavailable as exc:  # the import stands; the beat catches up
            log.warning("could not ask for reply drafts of project %s: %s", project.pk, exc)

    transaction.on_commit(send)
