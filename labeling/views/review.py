"""Reviewer pages: the queue of submitted work (with filters), a task's submissions side by side with
where its labelers disagree, accept / reject / edit one submission, accept the rest and go on."""

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError, NotFound
from core.forms import form_errors_text
from core.markdown import render_chat_text
from core.pages import flash_errors
from core.types import AuthedRequest
from labeling.access import project_for, project_nav, require_role
from labeling.conversation import prompt_text
from labeling.forms import (
    BOOLEAN_FLAGS,
    FLAG_LABELS,
    OVERALL,
    RankingForm,
    ReviewForm,
    ReviewQueueForm,
    letter,
)
from labeling.models import (
    Assignment,
    Candidate,
    Demonstration,
    EvaluationVote,
    Membership,
    Project,
    Ranking,
    Role,
    Task,
    TaskKind,
)
from labeling.rankings import PairCounts, rankings_agreement, tier_ranks
from labeling.selectors.active import task_answer_scores
from labeling.selectors.review import (
    QueueFilters,
    Submission,
    next_task_to_review,
    review_waiting,
    submissions_to_review,
    task_submissions,
)
from labeling.services.review import review_accept_remaining, review_create
from labeling.views.display import conversation, query_int

PER_PAGE = 50
DISPUTED_SPREAD = 2  # labelers who place an answer this many positions apart disagree about it


def _queue_form(project: Project, data: QueryDict | None) -> ReviewQueueForm:
    labelers = list(
        Membership.objects.filter(project=project)
        .order_by("user__username")
        .values_list("user_id", "user__username")
    )
    return ReviewQueueForm(data, labelers=labelers, kinds=project.task_kinds)


def _filters(form: ReviewQueueForm) -> QueueFilters:
    """The filters a valid form asks for; a form with a bad value is refused, naming the field."""
    if not form.is_valid():
        raise DomainError(f"Filters: {form_errors_text(form)}", field=next(iter(form.errors)))
    data = form.cleaned_data
    return QueueFilters(
        pending_only=data.get("show") != "all",
        labeler_id=data.get("labeler"),
        kind=data.get("kind") or "",
        max_agreement=None if data.get("agreement") is None else data["agreement"] / 100,
        since=data.get("since"),
        until=data.get("until"),
    )


def _ordinal(position: float) -> str:
    n = int(position)
    if n != position:
        return f"{position:g}"
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


@login_required
@require_GET
def review_queue(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.REVIEWER)
    form = _queue_form(project, request.GET)
    filters = _filters(form)
    page = query_int(request.GET.get("page"), 1)
    rows, more = submissions_to_review(
        project=project, filters=filters, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
    )
    query = form.query()
    tasks_waiting, submissions_waiting = review_waiting(project_ids=[project.pk]).get(project.pk, (0, 0))
    context = project_nav(project, role, "review") | {
        "form": form,
        "rows": [{"row": r, "preview": prompt_text(r.task.prompt.messages)[:140]} for r in rows],
        "query": query,
        "filtered": any(v for k, v in form.cleaned_data.items() if k != "show"),
        "tasks_waiting": tasks_waiting,
        "submissions_waiting": submissions_waiting,
        "pending_only": filters.pending_only,
        "page": page,
        "more": more,
    }
    return render(request, "labeling/review_queue.html", context)


@login_required
@require_GET
def review_next(request: AuthedRequest, project_id: int) -> HttpResponse:
    """The next task waiting for review after `after`, the queue's filters kept; back to the queue when
    nothing else waits."""
    project, _ = project_for(request.user, project_id, Role.REVIEWER)
    form = _queue_form(project, request.GET)
    after = query_int(request.GET.get("after"), 0, low=0, high=2**31 - 1) or None
    task_id = next_task_to_review(project=project, filters=_filters(form), after=after)
    query = form.query()
    if task_id is None or task_id == after:
        messages.success(request, "Nothing else waits for review here.")
        return redirect(reverse("labeling:review-queue", args=[project.pk]) + (f"?{query}" if query else ""))
    return redirect(reverse("labeling:task-review", args=[task_id]) + (f"?{query}" if query else ""))


@login_required
@require_GET
def task_review(request: AuthedRequest, task_id: int) -> HttpResponse:
    task = Task.objects.select_related("prompt", "project__guideline").filter(pk=task_id).first()
    if task is None:
        raise NotFound("no such task")
    role = require_role(user=request.user, project=task.project, role=Role.REVIEWER)
    form = _queue_form(task.project, request.GET)
    _filters(form)
    query = form.query()
    submissions = task_submissions(task=task)
    can_review = {
        s.assignment.pk: task.project.allow_self_review or s.assignment.labeler_id != request.user.pk
        for s in submissions
    }
    context = project_nav(task.project, role, "review") | {
        "task": task,
        "conversation": conversation(task.prompt.messages),
        "submissions": submissions,
        "flag_labels": FLAG_LABELS,
        "query": query,
        "next_url": reverse("labeling:review-next", args=[task.project_id])
        + f"?{query}{'&' if query else ''}after={task.pk}",
        "queue_url": reverse("labeling:review-queue", args=[task.project_id])
        + (f"?{query}" if query else ""),
        "waiting": sum(1 for s in submissions if s.verdict is None and can_review[s.assignment.pk]),
        "own_waiting": sum(1 for s in submissions if s.verdict is None and not can_review[s.assignment.pk]),
    }
    if task.kind == TaskKind.RANKING:
        context |= _ranking_review(task, submissions)
        editing = query_int(request.GET.get("edit"), 0, low=0, high=2**31 - 1)
        chosen = next((s for s in submissions if s.assignment.pk == editing), None)
        if chosen is not None and can_review[chosen.assignment.pk]:
            context |= _ranking_editor(task, chosen, submissions)
    elif task.kind == TaskKind.EVALUATION:
        context |= _evaluation_review(task, submissions)
    else:
        context["columns"] = [_demonstration_column(task, s) for s in submissions]
    for number, column in enumerate(context["columns"], start=1):
        column["number"] = number
        column["own"] = not can_review[column["submission"].assignment.pk]  # for another reviewer to judge
    return render(request, "labeling/task_review.html", context)


def _tier_of(tiers: list[list[int]]) -> dict[int, int]:
    return {cid: n for n, tier in enumerate(tiers, start=1) for cid in tier}


def _ordered_candidates(task: Task) -> list[Candidate]:
    candidates = Candidate.objects.in_bulk(task.candidate_ids)
    return [candidates[cid] for cid in task.candidate_ids if cid in candidates]


def _ranking_review(task: Task, submissions: list[Submission]) -> dict[str, Any]:
    """The answers as rows and each submission as a column; where the labelers' own rankings place an
    answer far apart, the row says so; and the share of answer pairs they order alike."""
    ordered = _ordered_candidates(task)
    columns: list[dict[str, Any]] = []
    for s in submissions:
        current, original = cast(Ranking, s.current), cast(Ranking, s.original)  # a ranking task's revisions
        current_tiers, original_tiers = _tier_of(current.tiers), _tier_of(original.tiers)
        positions = tier_ranks(current.tiers)
        ratings = {r.candidate_id: r for r in current.ratings.all()}
        columns.append(
            {
                "submission": s,
                "cells": [
                    {
                        "tier": current_tiers.get(c.pk),
                        "place": _ordinal(float(positions[c.pk])) if c.pk in positions else "",
                        "original_tier": original_tiers.get(c.pk),
                        "rating": ratings.get(c.pk),
                        "flags": [
                            FLAG_LABELS[f]
                            for f in BOOLEAN_FLAGS
                            if ratings.get(c.pk) and getattr(ratings[c.pk], f)
                        ],
                    }
                    for c in ordered
                ],
            }
        )
    # Disagreement is the labelers' own: each first revision, leaving out "all answers are bad".
    own = [cast(Ranking, s.original) for s in submissions]
    compared = [r.tiers for r in own if not r.all_bad]
    places = [tier_ranks(tiers) for tiers in compared]
    rows = []
    for i, c in enumerate(ordered):
        seen = [float(p[c.pk]) for p in places if c.pk in p]
        spread = max(seen) - min(seen) if len(seen) >= 2 else 0
        rows.append(
            {
                "letter": letter(i),
                "id": c.pk,
                "html": render_chat_text(c.text),
                "cells": [col["cells"][i] for col in columns],
                "disputed": spread >= DISPUTED_SPREAD,
                "range": f"{_ordinal(min(seen))} to {_ordinal(max(seen))}" if seen else "",
            }
        )
    agreement: PairCounts | None = rankings_agreement(compared) if len(compared) >= 2 else None
    # Reviewers (never labelers: no anchoring) see what the queue's reward model made of each answer.
    scores = task_answer_scores(task=task)
    if scores is not None:
        by_candidate = scores.by_candidate
        model_order = sorted(by_candidate, key=lambda cid: -by_candidate[cid])
        for row, candidate in zip(rows, ordered, strict=True):
            if candidate.pk in by_candidate:
                row["model_score"] = by_candidate[candidate.pk]
                row["model_place"] = _ordinal(float(model_order.index(candidate.pk) + 1))
    return {
        "answer_scores": scores,
        "rows": rows,
        "columns": columns,
        "agreement": agreement,
        "disputed": sum(1 for r in rows if r["disputed"]),
    }


def _ranking_editor(task: Task, chosen: Submission, submissions: list[Submission]) -> dict[str, Any]:
    """One submission's ranking as cards beside the answers, with the tier board, ratings and flags the
    reviewer edits; each card also says where the other labelers put that answer."""
    ordered = _ordered_candidates(task)
    current = cast(Ranking, chosen.current)
    tiers = _tier_of(current.tiers)
    ratings = {r.candidate_id: r for r in current.ratings.all()}
    others = [
        (s.assignment.labeler.username, tier_ranks(cast(Ranking, s.original).tiers))
        for s in submissions
        if s.assignment.pk != chosen.assignment.pk and not cast(Ranking, s.original).all_bad
    ]
    cards = []
    for i, c in enumerate(ordered):
        rating = ratings.get(c.pk)
        cards.append(
            {
                "id": c.pk,
                "letter": letter(i),
                "html": render_chat_text(c.text),
                "preview": c.text[:80],
                "tier": tiers.get(c.pk),
                "overall": rating.overall if rating else None,
                "flags": [
                    {"name": f, "label": FLAG_LABELS[f], "checked": bool(rating and getattr(rating, f))}
                    for f in BOOLEAN_FLAGS
                ],
                "satisfies": None
                if rating is None or rating.satisfies_constraints is None
                else ("yes" if rating.satisfies_constraints else "no"),
                "others": [
                    f"{name}: {_ordinal(float(place[c.pk]))}" for name, place in others if c.pk in place
                ],
            }
        )
    return {
        "editing": chosen,
        "cards": cards,
        "tier_numbers": list(range(1, len(ordered) + 1)),
        "overall_choices": list(OVERALL),
        "all_bad": current.all_bad,
    }


CHOICE_WORDS = {"left": "A is better", "right": "B is better", "tie": "About the same"}


def _evaluation_review(task: Task, submissions: list[Submission]) -> dict[str, Any]:
    """The two answers as the labelers saw them (A left, B right; blind here too, so that an edit is a
    judgement of the answers alone) and each labeler's vote."""
    texts = dict(Candidate.objects.filter(pk__in=task.candidate_ids).values_list("pk", "text"))
    columns = []
    for s in submissions:
        current, original = cast(EvaluationVote, s.current), cast(EvaluationVote, s.original)
        columns.append(
            {
                "submission": s,
                "choice": current.choice,
                "choice_words": CHOICE_WORDS[current.choice],
                "original_words": CHOICE_WORDS[original.choice] if s.edited else "",
                "reason": current.reason,
            }
        )
    answers = [
        {"letter": letter(i), "html": render_chat_text(texts.get(cid, ""))}
        for i, cid in enumerate(task.candidate_ids)
    ]
    return {"answers": answers, "columns": columns, "choices": list(CHOICE_WORDS.items())}


def _demonstration_column(task: Task, submission: Submission) -> dict[str, Any]:
    start = 0 if task.kind == TaskKind.CHAT else len(task.prompt.messages)  # a chat: all of it is the work
    reply = cast(Demonstration, submission.current).messages[start:]
    original = cast(Demonstration, submission.original).messages[start:]
    return {
        "submission": submission,
        "reply": conversation(reply),
        "original": conversation(original) if submission.edited else [],
        "final_answer": reply[-1].get("content", "") if reply else "",
    }


def _task_review_url(request: AuthedRequest, assignment_id: int) -> str:
    task_id = Assignment.objects.filter(pk=assignment_id).values_list("task_id", flat=True).first()
    query = request.POST.get("filters", "")
    return reverse("labeling:task-review", args=[task_id]) + (f"?{query}" if query else "")


@login_required
@require_POST
@flash_errors(_task_review_url)
def review_submit(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    assignment = (
        Assignment.objects.select_related("task__prompt", "task__project").filter(pk=assignment_id).first()
    )
    if assignment is None:
        raise NotFound("no such assignment")
    task = assignment.task
    require_role(user=request.user, project=task.project, role=Role.REVIEWER)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        raise DomainError(form_errors_text(form))
    verdict = form.cleaned_data["verdict"]
    review_create(
        assignment_id=assignment_id,
        reviewer=request.user,
        verdict=verdict,
        reason=form.cleaned_data["reason"],
        edit=_review_edit(request, task, assignment) if verdict == "edit" else None,
    )
    done = {"accept": "Accepted", "reject": "Rejected; the task is open again", "edit": "Edit saved"}[verdict]
    messages.success(request, f"{done} ({assignment.labeler.username}).")
    return redirect(_task_review_url(request, assignment_id))


def _review_edit(request: AuthedRequest, task: Task, assignment: Assignment) -> dict[str, Any]:
    """The edited annotation from the form; a form that does not parse is refused with what to fix."""
    if task.kind == TaskKind.EVALUATION:
        return {"choice": request.POST.get("choice", "")}
    if task.kind == TaskKind.RANKING:
        ordered = _ordered_candidates(task)
        form = RankingForm(request.POST, candidates=ordered, tiers=len(ordered))
        if not form.is_valid():
            raise DomainError(form_errors_text(form), field="tiers")
        all_bad = bool(form.cleaned_data.get("all_bad"))
        tiers = form.tiers() or ([list(task.candidate_ids)] if all_bad else [])
        return {"tiers": tiers, "ratings": form.ratings(), "all_bad": all_bad}
    current = Demonstration.objects.filter(assignment=assignment, is_current=True).first()
    content = request.POST.get("content", "").strip()
    if current is None or not content:
        raise DomainError("Write the edited answer.", field="content")
    start = 0 if task.kind == TaskKind.CHAT else len(task.prompt.messages)
    reply = [dict(m) for m in current.messages[start:]]
    reply[-1]["content"] = content
    return {"messages": reply, "tools": current.tools}


def _task_url(request: AuthedRequest, task_id: int) -> str:
    query = request.POST.get("filters", "")
    return reverse("labeling:task-review", args=[task_id]) + (f"?{query}" if query else "")


@login_required
@require_POST
@flash_errors(_task_url)
def review_accept_next(request: AuthedRequest, task_id: int) -> HttpResponse:
    """Accept every submission of the task not reviewed yet, then open the next task of the queue."""
    task = Task.objects.select_related("project").filter(pk=task_id).first()
    if task is None:
        raise NotFound("no such task")
    project, _ = project_for(request.user, task.project_id, Role.REVIEWER)
    form = _queue_form(project, QueryDict(request.POST.get("filters", "")))
    filters = _filters(form)
    accepted = review_accept_remaining(task_id=task.pk, reviewer=request.user)
    names = ", ".join(sorted({r.assignment.labeler.username for r in accepted}))
    messages.success(
        request,
        f"Task {task.pk}: accepted {len(accepted)} submission{'s' if len(accepted) != 1 else ''}"
        + (f" ({names})." if names else "."),
    )
    query = form.query()
    following = next_task_to_review(project=project, filters=filters, after=task.pk)
    if following is None or following == task.pk:
        messages.info(request, "Nothing else waits for review here.")
        return redirect(reverse("labeling:review-queue", args=[project.pk]) + (f"?{query}" if query else ""))
    return redirect(reverse("labeling:task-review", args=[following]) + (f"?{query}" if query else ""))
