"""Every write in labeling: one intention, one transaction."""

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from config.errors import Conflict, DomainError, NotAllowed, NotFound
from guidelines.models import Acknowledgement, GuidelineVersion
from guidelines.selectors import guideline_current_version, guideline_version_pending_for
from guidelines.services import guideline_create
from labeling import importing, search
from labeling.bulk import copy_insert
from labeling.conversation import InvalidConversation, validate_messages
from labeling.importing import LineError
from labeling.models import (
    RATING_FLAGS,
    Assignment,
    Candidate,
    CandidateRating,
    Demonstration,
    DemonstrationDraft,
    Membership,
    Project,
    Prompt,
    Ranking,
    Review,
    Role,
    SearchCorpus,
    SearchDocument,
    Task,
    TaskKind,
)
from labeling.permissions import require_role


class GuidelineNotAcknowledged(DomainError):
    status = 409
    code = "guideline_not_acknowledged"


class InvalidRanking(DomainError):
    code = "invalid_ranking"


class InvalidDemonstration(DomainError):
    code = "invalid_demonstration"


class WrongKind(DomainError):
    code = "wrong_kind"


class LeaseExpired(Conflict):
    code = "lease_expired"


class ImportRejected(DomainError):
    """A file with any bad line imports nothing; every bad line is reported."""

    code = "import_rejected"

    def __init__(self, errors: list[LineError]):
        shown = errors[: importing.MAX_REPORTED_ERRORS]
        lines = [{"line": e.line, "reason": e.reason} for e in shown]
        super().__init__(
            f"{len(errors)} bad line(s); nothing was imported", field="file", extra={"lines": lines}
        )
        self.errors = errors


# --- projects ------------------------------------------------------------------------------------


@transaction.atomic
def project_create(
    *,
    name: str,
    task_kinds: list[str],
    created_by: AbstractBaseUser,
    k: int = 4,
    overlap: int = 1,
    lease_seconds: int = 1800,
    description: str = "",
) -> Project:
    _check_project_settings(task_kinds=task_kinds, k=k, overlap=overlap, lease_seconds=lease_seconds)
    if Project.objects.filter(name=name).exists():
        raise Conflict(f"a project named {name!r} exists", field="name")
    project = Project.objects.create(
        name=name,
        description=description,
        task_kinds=list(dict.fromkeys(task_kinds)),
        k=k,
        overlap=overlap,
        lease_seconds=lease_seconds,
        guideline=guideline_create(title=f"{name} guidelines"),
    )
    Membership.objects.create(project=project, user=created_by, role=Role.ADMIN)
    return project


def _check_project_settings(*, task_kinds: list[str], k: int, overlap: int, lease_seconds: int) -> None:
    if not task_kinds:
        raise DomainError("choose at least one task kind", field="task_kinds")
    if unknown := set(task_kinds) - set(TaskKind.values):
        raise DomainError(f"unknown task kinds {sorted(unknown)}", field="task_kinds")
    if not 2 <= k <= 9:
        raise DomainError("K must be between 2 and 9", field="k")
    if overlap < 1:
        raise DomainError("overlap must be at least 1", field="overlap")
    if lease_seconds < 30:
        raise DomainError("a lease lasts at least 30 seconds", field="lease_seconds")


@transaction.atomic
def project_update(*, project: Project, **changes: Any) -> Project:
    allowed = {"description", "task_kinds", "k", "overlap", "lease_seconds"}
    if unknown := set(changes) - allowed:
        raise DomainError(f"cannot change {sorted(unknown)}", field=sorted(unknown)[0])
    merged = {f: changes.get(f, getattr(project, f)) for f in ("task_kinds", "k", "overlap", "lease_seconds")}
    _check_project_settings(**merged)
    for name, value in changes.items():
        setattr(project, name, value)
    project.save(update_fields=list(changes) or None)
    return project


def membership_set(*, project: Project, user: AbstractBaseUser, role: str) -> Membership:
    if role not in Role.values:
        raise DomainError(f"unknown role {role!r}", field="role")
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


def membership_remove(*, project: Project, user: AbstractBaseUser) -> None:
    Membership.objects.filter(project=project, user=user).delete()


# --- import --------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int = 0
    unchanged: int = 0
    tasks_created: int = 0
    details: dict[str, Any] = field(default_factory=dict)


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
                "metadata": r.metadata | ({"task_kind": r.task_kind} if r.task_kind else {}),
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
        if kind != TaskKind.RANKING
    ]
    tasks_created = copy_insert(Task, tasks)
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

    new = [
        {
            "prompt_id": p,
            "model_name": m,
            "sample_index": i,
            "text": r.text,
            "sampling_params": r.sampling_params,
        }
        for (p, m, i), r in keyed.items()
        if (p, m, i) not in stored
    ]
    copy_insert(Candidate, new)
    tasks = ranking_tasks_create(project=project, prompt_ids=sorted({p for p, _, _ in keyed}))
    return ImportResult(created=len(new), unchanged=len(keyed) - len(new), tasks_created=tasks)


@transaction.atomic
def candidates_add(
    *,
    prompt: Prompt,
    texts: list[str],
    model_name: str,
    sampling_params: dict[str, Any],
    first_index: int = 0,
) -> int:
    """Store generated samples; a retried batch hits the unique key and adds nothing twice."""
    rows = [
        Candidate(
            prompt=prompt,
            text=t,
            model_name=model_name,
            sample_index=first_index + i,
            sampling_params=sampling_params,
        )
        for i, t in enumerate(texts)
    ]
    Candidate.objects.bulk_create(rows, ignore_conflicts=True)
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
    wanted = [p for p in prompt_ids if p not in has_task]
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


# --- handing out work ----------------------------------------------------------------------------

_LABELER_LOCK = 7301  # advisory-lock namespace: one claim at a time per labeler

_RECLAIM_EXPIRED = """
WITH expired AS (
    UPDATE labeling_assignment SET state = 'expired'
    WHERE id IN (
        SELECT id FROM labeling_assignment
        WHERE state = 'active' AND lease_expires_at <= now()
        ORDER BY lease_expires_at LIMIT 200
        FOR UPDATE SKIP LOCKED)
    RETURNING task_id
)
UPDATE labeling_task t SET claimed_count = t.claimed_count - e.n
FROM (SELECT task_id, count(*) AS n FROM expired GROUP BY task_id) e
WHERE t.id = e.task_id
"""

# The lock re-checks the row's own columns (claimed_count) when another claim changed it meanwhile,
# which is why the count lives on the task row rather than in a subquery over assignments. Gold and
# other tasks are picked separately (is_gold is a key of the open-queue index, so each pick is an
# index range in id order).
_PICK_TASK = """
SELECT t.id FROM labeling_task t
WHERE t.project_id = %(project)s AND t.status = 'open' AND t.is_gold = %(gold)s
  AND t.claimed_count < t.required_count
  AND NOT EXISTS (
      SELECT 1 FROM labeling_assignment a
      WHERE a.task_id = t.id AND a.labeler_id = %(labeler)s AND a.state IN ('active', 'submitted', 'skipped'))
ORDER BY t.id
LIMIT 1
FOR UPDATE OF t SKIP LOCKED
"""

_GOLD_SHARE = """
SELECT count(*) FILTER (WHERE t.is_gold), count(*)
FROM labeling_assignment a JOIN labeling_task t ON t.id = a.task_id
WHERE a.labeler_id = %(labeler)s AND t.project_id = %(project)s AND a.state IN ('active', 'submitted')
"""

_TAKE_TASK = """
WITH taken AS (UPDATE labeling_task SET claimed_count = claimed_count + 1 WHERE id = %(task)s)
INSERT INTO labeling_assignment (task_id, labeler_id, state, leased_at, lease_expires_at, skip_reason)
VALUES (%(task)s, %(labeler)s, 'active', now(), now() + %(lease)s, '')
ON CONFLICT (task_id, labeler_id) DO UPDATE
    SET state = 'active', leased_at = now(), lease_expires_at = now() + %(lease)s, skip_reason = ''
RETURNING id
"""


def _gold_first(cursor: Any, project: Project, params: dict[str, int]) -> tuple[bool, bool]:
    """Which kind of task to try first: gold while this labeler's share of gold is under the rate."""
    if project.gold_rate <= 0:
        return (False, True)
    cursor.execute(_GOLD_SHARE, params)
    gold, total = cursor.fetchone()
    return (True, False) if gold < project.gold_rate * (total + 1) else (False, True)


def leases_reclaim_expired() -> None:
    with connection.cursor() as cursor:
        cursor.execute(_RECLAIM_EXPIRED)


@transaction.atomic
def claim_next_task(*, project: Project, labeler: AbstractBaseUser) -> Assignment | None:
    """Lease the next task this labeler may do: their live lease if any, else a fresh one."""
    if version := guideline_version_pending_for(user=labeler, guideline=project.guideline):
        raise GuidelineNotAcknowledged(
            f"acknowledge guideline version {version.number} before taking a task",
            extra={"guideline_version": version.number},
        )
    with connection.cursor() as cursor:
        # A lease is cheap to lose: if the server crashed in the next few milliseconds, the labeler would
        # just take the next task. So the claim does not wait for its WAL flush (submits still do).
        cursor.execute(
            "SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(%s, %s)",
            [_LABELER_LOCK, labeler.pk],
        )
        live = (
            Assignment.objects.select_related("task__prompt")
            .filter(
                labeler=labeler,
                task__project=project,
                state=Assignment.State.ACTIVE,
                lease_expires_at__gt=timezone.now(),
            )
            .order_by("leased_at")
            .first()
        )
        if live is not None:
            return live
        cursor.execute(_RECLAIM_EXPIRED)
        params = {"project": project.pk, "labeler": labeler.pk}
        row = None
        for gold in _gold_first(cursor, project, params):
            cursor.execute(_PICK_TASK, params | {"gold": gold})
            if row := cursor.fetchone():
                break
        if row is None:
            return None
        lease = timedelta(seconds=project.lease_seconds)
        cursor.execute(_TAKE_TASK, {"task": row[0], "labeler": labeler.pk, "lease": lease})
        assignment_id = cursor.fetchone()[0]
    return Assignment.objects.select_related("task__prompt").get(pk=assignment_id)


def _locked_assignment(assignment_id: int, labeler: AbstractBaseUser) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update().select_related("task").filter(pk=assignment_id).first()
    )
    if assignment is None:
        raise NotFound("no such assignment")
    if assignment.labeler_id != labeler.pk:
        raise NotAllowed("this assignment belongs to another labeler")
    return assignment


def _require_live(assignment: Assignment) -> None:
    if assignment.state == Assignment.State.ACTIVE and assignment.lease_expires_at > timezone.now():
        return
    if assignment.state in (Assignment.State.ACTIVE, Assignment.State.EXPIRED):
        raise LeaseExpired("the lease on this task has expired; take the next task")
    raise Conflict(f"this assignment was {assignment.state}", field="assignment")


def _give_back(assignment: Assignment, state: str, reason: str = "") -> Assignment:
    assignment.state = state
    assignment.skip_reason = reason
    assignment.save(update_fields=["state", "skip_reason"])
    Task.objects.filter(pk=assignment.task_id).update(claimed_count=F("claimed_count") - 1)
    return assignment


@transaction.atomic
def assignment_skip(*, assignment_id: int, labeler: AbstractBaseUser, reason: str) -> Assignment:
    """Hand the task back for others; this labeler will not get it again."""
    assignment = _locked_assignment(assignment_id, labeler)
    if assignment.state == Assignment.State.SKIPPED:
        return assignment
    _require_live(assignment)
    if not reason.strip():
        raise DomainError("say why you skip this task", field="reason")
    return _give_back(assignment, Assignment.State.SKIPPED, reason.strip()[:500])


@transaction.atomic
def assignment_release(*, assignment_id: int, labeler: AbstractBaseUser) -> Assignment:
    """Hand the task back to the pool; this labeler may get it again later."""
    assignment = _locked_assignment(assignment_id, labeler)
    if assignment.state == Assignment.State.RELEASED:
        return assignment
    _require_live(assignment)
    return _give_back(assignment, Assignment.State.RELEASED)


@transaction.atomic
def assignment_renew(*, assignment_id: int, labeler: AbstractBaseUser) -> Assignment:
    """Extend a live lease while the labeler is still working on it."""
    assignment = _locked_assignment(assignment_id, labeler)
    _require_live(assignment)
    project = Project.objects.only("lease_seconds").get(pk=assignment.task.project_id)
    assignment.lease_expires_at = timezone.now() + timedelta(seconds=project.lease_seconds)
    assignment.save(update_fields=["lease_expires_at"])
    return assignment


def _labeler_guideline_version(labeler: AbstractBaseUser, task: Task) -> GuidelineVersion | None:
    """The newest version of the project's guideline this labeler acknowledged: the one they worked under."""
    ack = (
        Acknowledgement.objects.filter(user=labeler, version__guideline__project__id=task.project_id)
        .order_by("-version__number")
        .select_related("version")
        .first()
    )
    return ack.version if ack else None


def _complete(assignment: Assignment) -> None:
    assignment.state = Assignment.State.SUBMITTED
    assignment.submitted_at = timezone.now()
    assignment.save(update_fields=["state", "submitted_at"])
    _count_completion(assignment.task_id, +1)


def _count_completion(task_id: int, delta: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE labeling_task SET completed_count = completed_count + %(d)s,
                   claimed_count = claimed_count + CASE WHEN %(d)s < 0 THEN -1 ELSE 0 END,
                   status = CASE WHEN completed_count + %(d)s >= required_count THEN 'done' ELSE 'open' END
               WHERE id = %(task)s AND status <> 'closed'""",
            {"d": delta, "task": task_id},
        )


def validate_tiers(tiers: Any, candidate_ids: list[int]) -> list[list[int]]:
    """Check that `tiers` orders every candidate of the task exactly once, best tier first."""
    if not isinstance(tiers, list) or not tiers:
        raise InvalidRanking("the ranking is empty: order every candidate of the task", field="tiers")
    flat: list[int] = []
    for position, tier in enumerate(tiers):
        if not isinstance(tier, list) or not tier:
            raise InvalidRanking(f"tier {position} must be a non-empty list of candidate ids", field="tiers")
        for cid in tier:
            if isinstance(cid, bool) or not isinstance(cid, int):
                raise InvalidRanking(
                    f"tier {position} holds {cid!r}, which is not a candidate id", field="tiers"
                )
            flat.append(cid)
    expected = set(candidate_ids)
    if duplicates := sorted(c for c, n in Counter(flat).items() if n > 1):  # linear: flat may be huge
        raise InvalidRanking(f"candidate ids {duplicates} appear more than once", field="tiers")
    if foreign := sorted(set(flat) - expected):
        raise InvalidRanking(f"candidate ids {foreign} are not candidates of this task", field="tiers")
    if missing := sorted(expected - set(flat)):
        raise InvalidRanking(f"candidate ids {missing} are missing from the ranking", field="tiers")
    return tiers


def _validated_ratings(ratings: Any, candidate_ids: list[int]) -> list[dict[str, Any]]:
    if ratings in (None, []):
        return []
    if not isinstance(ratings, list):
        raise InvalidRanking("ratings must be a list", field="ratings")
    seen: set[int] = set()
    for i, rating in enumerate(ratings):
        where = f"ratings[{i}]"
        if not isinstance(rating, dict):
            raise InvalidRanking(f"{where} must be an object", field="ratings")
        cid = rating.get("candidate")
        if cid not in candidate_ids or isinstance(cid, bool):
            raise InvalidRanking(
                f"{where}.candidate {cid!r} is not a candidate of this task", field="ratings"
            )
        if cid in seen:
            raise InvalidRanking(f"candidate {cid} is rated twice", field="ratings")
        seen.add(cid)
        overall = rating.get("overall")
        if overall is not None and (isinstance(overall, bool) or overall not in range(1, 8)):
            raise InvalidRanking(f"{where}.overall must be a whole number from 1 to 7", field="ratings")
        if unknown := set(rating) - {"candidate", "overall", *RATING_FLAGS}:
            raise InvalidRanking(f"{where} has unknown keys {sorted(unknown)}", field="ratings")
        for flag in RATING_FLAGS:
            value = rating.get(flag)
            if value is not None and not isinstance(value, bool):
                raise InvalidRanking(f"{where}.{flag} must be true or false", field="ratings")
    return ratings


def _store_ranking(
    *,
    assignment: Assignment,
    author: AbstractBaseUser,
    tiers: list[list[int]],
    ratings: list[dict[str, Any]],
    all_bad: bool,
    seconds: float,
    version: GuidelineVersion | None,
    previous: Ranking | None = None,
) -> Ranking:
    if previous is not None:
        Ranking.objects.filter(pk=previous.pk).update(is_current=False)
    ranking = Ranking.objects.create(
        assignment=assignment,
        task=assignment.task,
        author=author,
        guideline_version=version,
        revision=previous.revision + 1 if previous else 1,
        previous=previous,
        tiers=tiers,
        all_bad=all_bad,
        seconds=max(0.0, float(seconds)),
    )
    CandidateRating.objects.bulk_create(
        [
            CandidateRating(
                ranking=ranking,
                candidate_id=r["candidate"],
                overall=r.get("overall"),
                **{f: r[f] for f in RATING_FLAGS if r.get(f) is not None},
            )
            for r in ratings
        ]
    )
    return ranking


@transaction.atomic
def ranking_submit(
    *,
    assignment_id: int,
    labeler: AbstractBaseUser,
    tiers: Any,
    ratings: Any = None,
    all_bad: bool = False,
    seconds: float = 0.0,
) -> tuple[Ranking, bool]:
    """Record a labeler's ranking; a retried submit returns the first result and counts once."""
    assignment = _locked_assignment(assignment_id, labeler)
    task = assignment.task
    if task.kind != TaskKind.RANKING:
        raise WrongKind(f"this is a {task.kind} task, not a ranking task", field="kind")
    if assignment.state == Assignment.State.SUBMITTED:
        return Ranking.objects.get(assignment=assignment, revision=1), False
    _require_live(assignment)
    if all_bad and not tiers:
        tiers = [list(task.candidate_ids)]  # one shared tier: no preference between bad answers
    tiers = validate_tiers(tiers, task.candidate_ids)
    ratings = _validated_ratings(ratings, task.candidate_ids)
    ranking = _store_ranking(
        assignment=assignment,
        author=labeler,
        tiers=tiers,
        ratings=ratings,
        all_bad=bool(all_bad),
        seconds=seconds,
        version=_labeler_guideline_version(labeler, task),
    )
    _complete(assignment)
    return ranking, True


DEMONSTRATION_KINDS = {TaskKind.DEMONSTRATION, TaskKind.REFUSAL, TaskKind.SEARCH}


def _validated_reply(task: Task, reply: Any) -> list[dict[str, Any]]:
    try:
        validate_messages(reply, ends_with={"assistant"})
    except InvalidConversation as exc:
        raise InvalidDemonstration(str(exc), field="messages") from None
    if reply[0]["role"] != "assistant":
        raise InvalidDemonstration("the reply starts with an assistant message", field="messages")
    if any(m["role"] in ("system", "user") for m in reply):
        raise InvalidDemonstration("the reply holds only assistant and tool messages", field="messages")
    if not (reply[-1].get("content") or "").strip():
        raise InvalidDemonstration("the reply ends with the assistant's written answer", field="messages")
    if task.kind == TaskKind.SEARCH and not any(m.get("tool_calls") for m in reply):
        raise InvalidDemonstration(
            "a search conversation calls the search tool at least once", field="messages"
        )
    return reply


@transaction.atomic
def demonstration_submit(
    *,
    assignment_id: int,
    labeler: AbstractBaseUser,
    messages: Any,
    tools: list[dict[str, Any]] | None = None,
    seconds: float = 0.0,
    pasted_chars: int = 0,
) -> tuple[Demonstration, bool]:
    """Record the reply a labeler wrote; `messages` are the new turns after the prompt's conversation."""
    assignment = _locked_assignment(assignment_id, labeler)
    task = assignment.task
    if task.kind not in DEMONSTRATION_KINDS:
        raise WrongKind(f"this is a {task.kind} task; it takes a ranking", field="kind")
    if assignment.state == Assignment.State.SUBMITTED:
        return Demonstration.objects.get(assignment=assignment, revision=1), False
    _require_live(assignment)
    reply = _validated_reply(task, messages)
    demonstration = Demonstration.objects.create(
        assignment=assignment,
        task=task,
        author=labeler,
        guideline_version=_labeler_guideline_version(labeler, task),
        messages=list(task.prompt.messages) + reply,
        tools=tools or [],
        seconds=max(0.0, float(seconds)),
        pasted_chars=max(0, int(pasted_chars)),
    )
    _complete(assignment)
    return demonstration, True


# --- review --------------------------------------------------------------------------------------


@transaction.atomic
def review_create(
    *,
    assignment_id: int,
    reviewer: AbstractBaseUser,
    verdict: str,
    reason: str = "",
    edit: dict[str, Any] | None = None,
) -> Review:
    """Accept, reject (the task goes back to the pool) or edit (a new revision; the original stays)."""
    assignment = (
        Assignment.objects.select_for_update()
        .select_related("task__project")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None:
        raise NotFound("no such assignment")
    require_role(user=reviewer, project=assignment.task.project, role=Role.REVIEWER)
    if assignment.state != Assignment.State.SUBMITTED:
        raise Conflict("only submitted work can be reviewed", field="assignment")
    if verdict not in Review.Verdict.values:
        raise DomainError(f"verdict must be one of {Review.Verdict.values}", field="verdict")
    if verdict == Review.Verdict.REJECT and not reason.strip():
        raise DomainError("say why the work is rejected", field="reason")
    if verdict == Review.Verdict.EDIT:
        if not edit:
            raise DomainError("an edit needs the edited annotation", field="edit")
        _store_edit(assignment, reviewer, edit)
    previous = assignment.reviews.order_by("-created_at", "-id").values_list("verdict", flat=True).first()
    was_rejected, now_rejected = previous == Review.Verdict.REJECT, verdict == Review.Verdict.REJECT
    if now_rejected != was_rejected:
        _count_completion(assignment.task_id, -1 if now_rejected else +1)
        if not now_rejected:
            Task.objects.filter(pk=assignment.task_id).update(claimed_count=F("claimed_count") + 1)
    return Review.objects.create(
        assignment=assignment, reviewer=reviewer, verdict=verdict, reason=reason.strip()
    )


def _store_edit(assignment: Assignment, reviewer: AbstractBaseUser, edit: dict[str, Any]) -> None:
    task = assignment.task
    version = guideline_current_version(guideline=task.project.guideline)
    if task.kind == TaskKind.RANKING:
        current = Ranking.objects.select_for_update().get(assignment=assignment, is_current=True)
        tiers = validate_tiers(edit.get("tiers"), task.candidate_ids)
        ratings = _validated_ratings(edit.get("ratings"), task.candidate_ids)
        if not ratings:  # keep the labeler's ratings unless the reviewer changed them
            ratings = [
                {
                    "candidate": r.candidate_id,
                    "overall": r.overall,
                    **{f: getattr(r, f) for f in RATING_FLAGS},
                }
                for r in current.ratings.all()
            ]
        _store_ranking(
            assignment=assignment,
            author=reviewer,
            tiers=tiers,
            ratings=ratings,
            all_bad=bool(edit.get("all_bad", current.all_bad)),
            seconds=float(edit.get("seconds", 0)),
            version=version,
            previous=current,
        )
        return
    current = Demonstration.objects.select_for_update().get(assignment=assignment, is_current=True)
    reply = _validated_reply(task, edit.get("messages"))
    Demonstration.objects.filter(pk=current.pk).update(is_current=False)
    Demonstration.objects.create(
        assignment=assignment,
        task=task,
        author=reviewer,
        guideline_version=version,
        revision=current.revision + 1,
        previous=current,
        messages=list(task.prompt.messages) + reply,
        tools=edit.get("tools", current.tools),
        seconds=float(edit.get("seconds", 0)),
    )


# --- web -----------------------------------------------------------------------------------------


_MAX_SECONDS_ON_TASK = 7 * 24 * 3600


def _seconds_on_task(seconds: float) -> float:
    """The page counts seconds only while it is visible; a draft carries the count across reloads."""
    return min(max(0.0, float(seconds)), _MAX_SECONDS_ON_TASK)


def _clean_picks(searches: list[dict[str, Any]], picks: Any) -> list[list[int]]:
    if not isinstance(picks, list):
        return []
    pairs = [
        (p[0], p[1])
        for p in picks
        if isinstance(p, list | tuple) and len(p) == 2 and all(type(x) is int for x in p)
    ]
    return [list(p) for p in search.ordered_picks(searches, pairs)]


@transaction.atomic
def demonstration_draft_save(
    *,
    assignment_id: int,
    labeler: AbstractBaseUser,
    content: str,
    seconds: float = 0.0,
    pasted_chars: int = 0,
    picks: Any = None,
) -> DemonstrationDraft:
    """Keep what the labeler has written so far; each save replaces the previous one."""
    assignment = _locked_assignment(assignment_id, labeler)
    if assignment.task.kind not in DEMONSTRATION_KINDS:
        raise WrongKind(f"this is a {assignment.task.kind} task; it takes a ranking", field="kind")
    _require_live(assignment)
    draft, _ = DemonstrationDraft.objects.get_or_create(assignment=assignment)
    draft.content = content
    draft.seconds = _seconds_on_task(seconds)
    draft.pasted_chars = max(0, int(pasted_chars))
    if picks is not None:
        draft.picks = _clean_picks(draft.searches, picks)
    draft.save()
    return draft


@transaction.atomic
def search_run(*, assignment_id: int, labeler: AbstractBaseUser, query: str) -> tuple[int, dict[str, Any]]:
    """Run the labeler's query against the project's corpora and keep it, with its results, in the draft."""
    assignment = _locked_assignment(assignment_id, labeler)
    if assignment.task.kind != TaskKind.SEARCH:
        raise WrongKind(f"this is a {assignment.task.kind} task, not a search task", field="kind")
    _require_live(assignment)
    query = " ".join(query.split())
    if not query:
        raise DomainError("write what to search for", field="query")
    if len(query) > search.MAX_QUERY_CHARS:
        raise DomainError(f"a query holds at most {search.MAX_QUERY_CHARS} characters", field="query")
    results = search.search_documents(project_id=assignment.task.project_id, query=query)
    step = {"query": query, "results": results}
    draft, _ = DemonstrationDraft.objects.get_or_create(assignment=assignment)
    draft.searches = [*draft.searches, step]
    draft.save(update_fields=["searches", "updated_at"])
    return len(draft.searches) - 1, step


@transaction.atomic
def demonstration_draft_submit(
    *,
    assignment_id: int,
    labeler: AbstractBaseUser,
    content: str,
    seconds: float = 0.0,
    pasted_chars: int = 0,
    picks: Any = None,
) -> tuple[Demonstration, bool]:
    """Submit the labeler's reply; for a search task, with the tool calls and the results they picked."""
    assignment = _locked_assignment(assignment_id, labeler)
    task = assignment.task
    if task.kind not in DEMONSTRATION_KINDS:
        raise WrongKind(f"this is a {task.kind} task; it takes a ranking", field="kind")
    reply: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    if assignment.state != Assignment.State.SUBMITTED:
        _require_live(assignment)
        if not content.strip():
            raise InvalidDemonstration("write the assistant's reply", field="content")
        reply = [{"role": "assistant", "content": content.strip()}]
        if task.kind == TaskKind.SEARCH:
            draft = DemonstrationDraft.objects.filter(assignment=assignment).first()
            searches = draft.searches if draft else []
            chosen = [tuple(p) for p in _clean_picks(searches, picks)]
            documents = SearchDocument.objects.filter(
                corpus__project_id=task.project_id, pk__in=[d for _, d in chosen]
            ).in_bulk()
            try:
                reply = search.search_reply(
                    searches=searches, picks=chosen, documents=documents, answer=content
                )
            except search.InvalidSearchReply as exc:
                raise InvalidDemonstration(str(exc), field="picks") from None
            tools = [search.SEARCH_TOOL]
    demonstration, created = demonstration_submit(
        assignment_id=assignment_id,
        labeler=labeler,
        messages=reply,
        tools=tools,
        seconds=_seconds_on_task(seconds),
        pasted_chars=pasted_chars,
    )
    DemonstrationDraft.objects.filter(assignment=assignment).delete()
    return demonstration, created


@transaction.atomic
def corpus_upload(
    *, project: Project, name: str, stream: IO[bytes], uploaded_by: AbstractBaseUser
) -> SearchCorpus:
    """Store a JSONL corpus of {"title", "url", "text"} documents; a file with any bad line stores nothing."""
    name = name.strip()
    if not name:
        raise DomainError("name the corpus", field="name")
    if SearchCorpus.objects.filter(project=project, name=name).exists():
        raise Conflict(f"this project has a corpus named {name!r}", field="name")
    rows, errors = search.parse_corpus_file(stream)
    if errors:
        raise ImportRejected(errors)
    corpus = SearchCorpus.objects.create(
        project=project, name=name, uploaded_by=uploaded_by, document_count=len(rows)
    )
    SearchDocument.objects.bulk_create(
        [SearchDocument(corpus=corpus, title=r.title, url=r.url, text=r.text) for r in rows], batch_size=1000
    )
    return corpus


def corpus_delete(*, corpus: SearchCorpus) -> None:
    corpus.delete()
