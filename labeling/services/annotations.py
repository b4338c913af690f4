"""Submitting rankings and demonstrations: validated, stored as revisions that never overwrite each other,
counted once however often a submit is retried."""

import math
from collections import Counter
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.errors import Conflict, DomainError
from core.types import User
from guidelines.models import Acknowledgement, GuidelineVersion
from labeling.conversation import InvalidConversation, tool_names, validate_messages
from labeling.models import (
    RATING_FLAGS,
    Assignment,
    CandidateRating,
    ChatTurn,
    Demonstration,
    Ranking,
    RankingDraft,
    Task,
    TaskKind,
)
from labeling.services.model_drafts import model_draft_checked, model_draft_edit_record
from labeling.services.queue import locked_assignment, require_live


class InvalidRanking(DomainError):
    code = "invalid_ranking"


class InvalidDemonstration(DomainError):
    code = "invalid_demonstration"


class WrongKind(DomainError):
    code = "wrong_kind"


MAX_SECONDS_ON_TASK = 7 * 24 * 3600


def seconds_on_task(value: Any) -> float:
    """Time on a task as the page counts it (only while visible), bounded to a week; a number or refused."""
    if isinstance(value, bool):
        raise DomainError("seconds must be a number", field="seconds")
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DomainError("seconds must be a number", field="seconds") from None
    if math.isnan(seconds):
        return 0.0
    return min(max(0.0, seconds), MAX_SECONDS_ON_TASK)


def labeler_guideline_version(labeler: User, task: Task) -> GuidelineVersion | None:
    """The newest version of the project's guideline this labeler acknowledged: the one they worked under."""
    ack = (
        Acknowledgement.objects.filter(user=labeler, version__guideline__project__id=task.project_id)
        .order_by("-version__number")
        .select_related("version")
        .first()
    )
    return ack.version if ack else None


def assignment_complete(assignment: Assignment) -> None:
    assignment.state = Assignment.State.SUBMITTED
    assignment.submitted_at = timezone.now()
    assignment.save(update_fields=["state", "submitted_at"])
    count_completion(assignment.task_id, +1)


def count_completion(task_id: int, delta: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE labeling_task SET completed_count = completed_count + %(d)s,
                   claimed_count = claimed_count + CASE WHEN %(d)s < 0 THEN -1 ELSE 0 END,
                   status = CASE WHEN completed_count + %(d)s >= required_count THEN 'done' ELSE 'open' END
               WHERE id = %(task)s AND status <> 'closed'""",
            {"d": delta, "task": task_id},
        )


def _few(ids: list[int]) -> str:
    """Ids for an error message: the first ten, so a huge bad ranking gets a short answer."""
    return str(ids[:10])[:-1] + (f", … ({len(ids)} in all)]" if len(ids) > 10 else "]")


def validate_tiers(tiers: Any, candidate_ids: list[int]) -> list[list[int]]:
    """Check that `tiers` orders every candidate of the task exactly once, best tier first.

    Nothing longer than the task's K candidates is read, so a request with a million ids costs as little
    as one with K.
    """
    if not isinstance(tiers, list) or not tiers:
        raise InvalidRanking("the ranking is empty: order every candidate of the task", field="tiers")
    k = len(candidate_ids)
    if len(tiers) > k:
        raise InvalidRanking(f"a ranking of {k} candidates has at most {k} tiers", field="tiers")
    flat: list[int] = []
    for position, tier in enumerate(tiers):
        if not isinstance(tier, list) or not tier:
            raise InvalidRanking(f"tier {position} must be a non-empty list of candidate ids", field="tiers")
        if len(flat) + len(tier) > k:
            raise InvalidRanking(f"the ranking holds more than the task's {k} candidate ids", field="tiers")
        for cid in tier:
            if isinstance(cid, bool) or not isinstance(cid, int):
                raise InvalidRanking(
                    f"tier {position} holds {str(cid)[:40]!r}, which is not a candidate id", field="tiers"
                )
            flat.append(cid)
    expected = set(candidate_ids)
    if duplicates := sorted(c for c, n in Counter(flat).items() if n > 1):
        raise InvalidRanking(f"candidate ids {_few(duplicates)} appear more than once", field="tiers")
    if foreign := sorted(set(flat) - expected):
        raise InvalidRanking(f"candidate ids {_few(foreign)} are not candidates of this task", field="tiers")
    if missing := sorted(expected - set(flat)):
        raise InvalidRanking(f"candidate ids {_few(missing)} are missing from the ranking", field="tiers")
    return tiers


def validated_ratings(ratings: Any, candidate_ids: list[int]) -> list[dict[str, Any]]:
    if ratings in (None, []):
        return []
    if not isinstance(ratings, list):
        raise InvalidRanking("ratings must be a list", field="ratings")
    if len(ratings) > len(candidate_ids):
        raise InvalidRanking(
            f"at most one rating for each of the {len(candidate_ids)} candidates", field="ratings"
        )
    seen: set[int] = set()
    for i, rating in enumerate(ratings):
        where = f"ratings[{i}]"
        if not isinstance(rating, dict):
            raise InvalidRanking(f"{where} must be an object", field="ratings")
        cid = rating.get("candidate")
        if cid not in candidate_ids or isinstance(cid, bool):
            raise InvalidRanking(
                f"{where}.candidate {str(cid)[:40]!r} is not a candidate of this task", field="ratings"
            )
        if cid in seen:
            raise InvalidRanking(f"candidate {cid} is rated twice", field="ratings")
        seen.add(cid)
        overall = rating.get("overall")
        if overall is not None and (isinstance(overall, bool) or overall not in range(1, 8)):
            raise InvalidRanking(f"{where}.overall must be a whole number from 1 to 7", field="ratings")
        if unknown := set(rating) - {"candidate", "overall", *RATING_FLAGS}:
            raise InvalidRanking(f"{where} has unknown keys {sorted(unknown)[:5]}", field="ratings")
        for flag in RATING_FLAGS:
            value = rating.get(flag)
            if value is not None and not isinstance(value, bool):
                raise InvalidRanking(f"{where}.{flag} must be true or false", field="ratings")
    return ratings


def ranking_store(
    *,
    assignment: Assignment,
    author: User,
    tiers: list[list[int]],
    ratings: list[dict[str, Any]],
    all_bad: bool,
    seconds: float,
    version: GuidelineVersion | None,
    previous: Ranking | None = None,
    chat_turn: ChatTurn | None = None,
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
        seconds=seconds_on_task(seconds),
        chat_turn=chat_turn,
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
    labeler: User,
    tiers: Any,
    ratings: Any = None,
    all_bad: bool = False,
    seconds: float = 0.0,
) -> tuple[Ranking, bool]:
    """Record a labeler's ranking; a retried submit returns the first result and counts once."""
    assignment = locked_assignment(assignment_id, labeler)
    task = assignment.task
    if task.kind != TaskKind.RANKING:
        raise WrongKind(f"this is a {task.kind} task, not a ranking task", field="kind")
    if assignment.state == Assignment.State.SUBMITTED:
        return Ranking.objects.get(assignment=assignment, revision=1), False
    require_live(assignment)
    if all_bad and not tiers:
        tiers = [list(task.candidate_ids)]  # one shared tier: no preference between bad answers
    tiers = validate_tiers(tiers, task.candidate_ids)
    ratings = validated_ratings(ratings, task.candidate_ids)
    ranking = ranking_store(
        assignment=assignment,
        author=labeler,
        tiers=tiers,
        ratings=ratings,
        all_bad=bool(all_bad),
        seconds=seconds,
        version=labeler_guideline_version(labeler, task),
    )
    assignment_complete(assignment)
    RankingDraft.objects.filter(assignment=assignment).delete()
    return ranking, True


@transaction.atomic
def ranking_revise(
    *,
    assignment_id: int,
    labeler: User,
    tiers: Any,
    ratings: Any = None,
    all_bad: bool = False,
    seconds: float = 0.0,
) -> Ranking:
    """Change one's own submitted ranking until a reviewer has looked at it: a new revision, the first one
    kept. The task's counts stay as they are: the work was counted once, when it was submitted."""
    assignment = locked_assignment(assignment_id, labeler)
    task = assignment.task
    if task.kind != TaskKind.RANKING:
        raise WrongKind(f"this is a {task.kind} task, not a ranking task", field="kind")
    if assignment.state != Assignment.State.SUBMITTED:
        raise Conflict("only a submitted ranking can be changed: submit it first", field="assignment")
    if assignment.reviews.exists():
        raise Conflict(
            "a reviewer has already looked at this ranking, so it can no longer be changed",
            field="assignment",
        )
    current = Ranking.objects.select_for_update().get(assignment=assignment, is_current=True)
    if all_bad and not tiers:
        tiers = [list(task.candidate_ids)]
    return ranking_store(
        assignment=assignment,
        author=labeler,
        tiers=validate_tiers(tiers, task.candidate_ids),
        ratings=validated_ratings(ratings, task.candidate_ids),
        all_bad=bool(all_bad),
        seconds=seconds,
        version=labeler_guideline_version(labeler, task),
        previous=current,
    )


DEMONSTRATION_KINDS = {TaskKind.DEMONSTRATION, TaskKind.REFUSAL, TaskKind.SEARCH}


MAX_REPLY_TURNS = 64  # a reply's assistant and tool turns after the prompt


def validated_reply(task: Task, reply: Any) -> list[dict[str, Any]]:
    if isinstance(reply, list) and len(reply) > MAX_REPLY_TURNS:
        raise InvalidDemonstration(f"a reply holds at most {MAX_REPLY_TURNS} turns", field="messages")
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


def validated_tools(tools: Any, reply: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tools schema of a reply: function tools that declare every tool the reply calls."""
    if tools in (None, []):
        tools = []
    try:
        declared = tool_names(tools)
    except InvalidConversation as exc:
        raise InvalidDemonstration(str(exc), field="tools") from None
    called = {c["function"]["name"] for m in reply for c in m.get("tool_calls") or []}
    if undeclared := sorted(called - declared):
        raise InvalidDemonstration(f"the reply calls tools the schema lacks: {undeclared[:5]}", field="tools")
    return tools


@transaction.atomic
def demonstration_submit(
    *,
    assignment_id: int,
    labeler: User,
    messages: Any,
    tools: Any = None,
    seconds: float = 0.0,
    pasted_chars: int = 0,
    model_draft: Any = None,
) -> tuple[Demonstration, bool]:
    """Record the reply a labeler wrote; `messages` are the new turns after the prompt's conversation.

    A search task's reply is not written freely: it is built from the searches Coach ran and recorded
    (labeling.services.drafts), so its tool results are real. A reply that started from a model draft
    (`model_draft`, its id) is one assistant message, and the submit records how far it moved from it.
    """
    assignment = locked_assignment(assignment_id, labeler)
    if assignment.task.kind == TaskKind.SEARCH and assignment.state != Assignment.State.SUBMITTED:
        raise InvalidDemonstration(
            "a search task is answered with an answer citing recorded search results, not messages",
            field="messages",
        )
    started_from = None
    if assignment.state != Assignment.State.SUBMITTED:
        started_from = model_draft_checked(task=assignment.task, model_draft=model_draft)
        one_message = isinstance(messages, list) and len(messages) == 1 and isinstance(messages[0], dict)
        if started_from is not None and not (one_message and not messages[0].get("tool_calls")):
            raise InvalidDemonstration(
                "a reply that starts from a model draft is one assistant message", field="model_draft"
            )
    demonstration, created = demonstration_store(
        assignment=assignment, messages=messages, tools=tools, seconds=seconds, pasted_chars=pasted_chars
    )
    if created and started_from is not None:
        model_draft_edit_record(demonstration=demonstration, reply_draft=started_from, labeler=labeler)
    return demonstration, created


def demonstration_store(
    *, assignment: Assignment, messages: Any, tools: Any, seconds: float, pasted_chars: int
) -> tuple[Demonstration, bool]:
    """Check and keep the reply of a locked assignment (the submit services and trusted imports)."""
    task = assignment.task
    if task.kind not in DEMONSTRATION_KINDS:
        raise WrongKind(f"this is a {task.kind} task; it takes a ranking", field="kind")
    if assignment.state == Assignment.State.SUBMITTED:
        return Demonstration.objects.get(assignment=assignment, revision=1), False
    require_live(assignment)
    reply = validated_reply(task, messages)
    demonstration = Demonstration.objects.create(
        assignment=assignment,
        task=task,
        author=assignment.labeler,
        guideline_version=labeler_guideline_version(assignment.labeler, task),
        messages=list(task.prompt.messages) + reply,
        tools=validated_tools(tools, reply),
        seconds=seconds_on_task(seconds),
        pasted_chars=max(0, int(pasted_chars)),
    )
    assignment_complete(assignment)
    return demonstration, True
