"""Review: accept, reject (the task goes back to the pool) or edit (a new revision; the original stays)."""

from typing import Any

from django.db import transaction
from django.db.models import F

from core.errors import Conflict, DomainError, NotAllowed, NotFound
from core.types import User
from guidelines.selectors import guideline_current_version
from labeling.access import require_role
from labeling.models import (
    RATING_FLAGS,
    Assignment,
    Demonstration,
    EvaluationVote,
    Ranking,
    Review,
    Role,
    Task,
    TaskKind,
)
from labeling.services.annotations import (
    count_completion,
    ranking_store,
    seconds_on_task,
    validate_tiers,
    validated_ratings,
    validated_reply,
)
from labeling.services.chat import validated_conversation
from labeling.services.evaluation import evaluation_vote_store


@transaction.atomic
def review_create(
    *,
    assignment_id: int,
    reviewer: User,
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
    project = assignment.task.project
    require_role(user=reviewer, project=project, role=Role.REVIEWER)
    if assignment.labeler_id == reviewer.pk and not project.allow_self_review:
        raise NotAllowed("a reviewer does not review their own work; another reviewer must")
    if assignment.state != Assignment.State.SUBMITTED:
        raise Conflict("only submitted work can be reviewed", field="assignment")
    if verdict not in Review.Verdict.values:
        raise DomainError(f"verdict must be one of {Review.Verdict.values}", field="verdict")
    if verdict == Review.Verdict.REJECT and not reason.strip():
        raise DomainError("say why the work is rejected", field="reason")
    if verdict == Review.Verdict.EDIT:
        if not edit or not isinstance(edit, dict):
            raise DomainError("an edit needs the edited annotation, as an object", field="edit")
        _store_edit(assignment, reviewer, edit)
    previous = assignment.reviews.order_by("-created_at", "-id").values_list("verdict", flat=True).first()
    was_rejected, now_rejected = previous == Review.Verdict.REJECT, verdict == Review.Verdict.REJECT
    if was_rejected and not now_rejected:
        task = Task.objects.select_for_update().get(pk=assignment.task_id)
        if task.claimed_count >= task.required_count:
            # Another labeler filled the slot this work gave up when it was rejected.
            raise Conflict(
                "the task has all its labels again since this work was rejected; it stays rejected",
                field="verdict",
            )
    if now_rejected != was_rejected:
        count_completion(assignment.task_id, -1 if now_rejected else +1)
        if not now_rejected:
            Task.objects.filter(pk=assignment.task_id).update(claimed_count=F("claimed_count") + 1)
    return Review.objects.create(
        assignment=assignment, reviewer=reviewer, verdict=verdict, reason=reason.strip()
    )


@transaction.atomic
def review_accept_remaining(*, task_id: int, reviewer: User) -> list[Review]:
    """Accept every submission of the task that no reviewer has judged yet, except the reviewer's own
    (unless the project allows self-review): the "accept and next" of the review page."""
    task = Task.objects.select_related("project").filter(pk=task_id).first()
    if task is None:
        raise NotFound("no such task")
    require_role(user=reviewer, project=task.project, role=Role.REVIEWER)
    waiting = Assignment.objects.filter(task=task, state=Assignment.State.SUBMITTED, reviews__isnull=True)
    if not task.project.allow_self_review:
        waiting = waiting.exclude(labeler=reviewer)
    return [
        review_create(assignment_id=assignment_id, reviewer=reviewer, verdict=Review.Verdict.ACCEPT)
        for assignment_id in waiting.order_by("submitted_at", "id").values_list("id", flat=True)
    ]


def _store_edit(assignment: Assignment, reviewer: User, edit: dict[str, Any]) -> None:
    task = assignment.task
    version = guideline_current_version(guideline=task.project.guideline)
    if task.kind == TaskKind.EVALUATION:
        vote = EvaluationVote.objects.select_for_update().get(assignment=assignment, is_current=True)
        evaluation_vote_store(
            assignment=assignment,
            author=reviewer,
            choice=edit.get("choice"),
            reason=edit.get("reason", vote.reason),
            seconds=edit.get("seconds", 0),
            version=version,
            previous=vote,
        )
        return
    if task.kind == TaskKind.RANKING:
        current = Ranking.objects.select_for_update().get(assignment=assignment, is_current=True)
        tiers = validate_tiers(edit.get("tiers"), task.candidate_ids)
        ratings = validated_ratings(edit.get("ratings"), task.candidate_ids)
        if not ratings:  # keep the labeler's ratings unless the reviewer changed them
            ratings = [
                {
                    "candidate": r.candidate_id,
                    "overall": r.overall,
                    **{f: getattr(r, f) for f in RATING_FLAGS},
                }
                for r in current.ratings.all()
            ]
        ranking_store(
            assignment=assignment,
            author=reviewer,
            tiers=tiers,
            ratings=ratings,
            all_bad=bool(edit.get("all_bad", current.all_bad)),
            seconds=seconds_on_task(edit.get("seconds", 0)),
            version=version,
            previous=current,
        )
        return
    written = Demonstration.objects.select_for_update().get(assignment=assignment, is_current=True)
    if task.kind == TaskKind.CHAT:  # the whole conversation is the labeler's work
        messages = validated_conversation(edit.get("messages"), ends_with="assistant").messages
    else:
        messages = list(task.prompt.messages) + validated_reply(task, edit.get("messages"))
    Demonstration.objects.filter(pk=written.pk).update(is_current=False)
    Demonstration.objects.create(
        assignment=assignment,
        task=task,
        author=reviewer,
        guideline_version=version,
        revision=written.revision + 1,
        previous=written,
        messages=messages,
        tools=written.tools,  # a reviewer edits the text; the tools stay those the labeler used
        seconds=seconds_on_task(edit.get("seconds", 0)),
    )
