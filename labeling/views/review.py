"""Reviewer pages: the queue of submitted work, a task's submissions side by side, accept / reject / edit."""

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

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
    ReviewForm,
    TierEditForm,
    letter,
)
from labeling.models import (
    Assignment,
    Candidate,
    Demonstration,
    EvaluationVote,
    Ranking,
    Role,
    Task,
    TaskKind,
)
from labeling.selectors.review import Submission, submissions_to_review, task_submissions
from labeling.services.review import review_create
from labeling.views.display import conversation, query_int


@login_required
def review_queue(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.REVIEWER)
    pending_only = request.GET.get("show") != "all"
    page = query_int(request.GET.get("page"), 1)
    per_page = 50
    rows, more = submissions_to_review(
        project=project, pending_only=pending_only, offset=(page - 1) * per_page, limit=per_page
    )
    shown = [{"row": r, "preview": prompt_text(r.task.prompt.messages)[:140]} for r in rows]
    context = project_nav(project, role, "review") | {
        "rows": shown,
        "pending_only": pending_only,
        "page": page,
        "more": more,
    }
    return render(request, "labeling/review_queue.html", context)


@login_required
def task_review(request: AuthedRequest, task_id: int) -> HttpResponse:
    task = Task.objects.select_related("prompt", "project__guideline").filter(pk=task_id).first()
    if task is None:
        raise NotFound("no such task")
    role = require_role(user=request.user, project=task.project, role=Role.REVIEWER)
    submissions = task_submissions(task=task)
    context = project_nav(task.project, role, "review") | {
        "task": task,
        "conversation": conversation(task.prompt.messages),
        "submissions": submissions,
        "flag_labels": FLAG_LABELS,
    }
    if task.kind == TaskKind.RANKING:
        context |= _ranking_review(task, submissions)
    elif task.kind == TaskKind.EVALUATION:
        context |= _evaluation_review(task, submissions)
    else:
        context["columns"] = [_demonstration_column(task, s) for s in submissions]
    for column in context["columns"]:  # a reviewer's own work is for another reviewer to judge
        mine = column["submission"].assignment.labeler_id == request.user.pk
        column["own"] = mine and not task.project.allow_self_review
    return render(request, "labeling/task_review.html", context)


def _tier_of(tiers: list[list[int]]) -> dict[int, int]:
    return {cid: n for n, tier in enumerate(tiers, start=1) for cid in tier}


def _ranking_review(task: Task, submissions: list[Submission]) -> dict[str, Any]:
    candidates = Candidate.objects.in_bulk(task.candidate_ids)
    ordered = [candidates[cid] for cid in task.candidate_ids if cid in candidates]
    columns: list[dict[str, Any]] = []
    for s in submissions:
        current, original = cast(Ranking, s.current), cast(Ranking, s.original)  # a ranking task's revisions
        current_tiers, original_tiers = _tier_of(current.tiers), _tier_of(original.tiers)
        ratings = {r.candidate_id: r for r in current.ratings.all()}
        columns.append(
            {
                "submission": s,
                "cells": [
                    {
                        "tier": current_tiers.get(c.pk),
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
                "edit_tiers": [
                    {"id": c.pk, "letter": letter(i), "tier": current_tiers.get(c.pk)}
                    for i, c in enumerate(ordered)
                ],
            }
        )
    rows = [
        {
            "letter": letter(i),
            "html": render_chat_text(c.text),
            "cells": [col["cells"][i] for col in columns],
        }
        for i, c in enumerate(ordered)
    ]
    return {"rows": rows, "columns": columns, "tier_numbers": list(range(1, len(ordered) + 1))}


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
    start = len(task.prompt.messages)
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
    return reverse("labeling:task-review", args=[task_id])


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
    return redirect("labeling:task-review", task.pk)


def _review_edit(request: AuthedRequest, task: Task, assignment: Assignment) -> dict[str, Any]:
    """The edited annotation from the form; a form that does not parse is refused with what to fix."""
    if task.kind == TaskKind.EVALUATION:
        return {"choice": request.POST.get("choice", "")}
    if task.kind == TaskKind.RANKING:
        candidates = Candidate.objects.in_bulk(task.candidate_ids)
        ordered = [candidates[cid] for cid in task.candidate_ids if cid in candidates]
        tiers = TierEditForm(request.POST, candidates=ordered, tiers=len(ordered))
        if not tiers.is_valid():
            raise DomainError("Give every answer a tier to edit the ranking.", field="tiers")
        return {"tiers": tiers.tiers()}
    current = Demonstration.objects.filter(assignment=assignment, is_current=True).first()
    content = request.POST.get("content", "").strip()
    if current is None or not content:
        raise DomainError("Write the edited answer.", field="content")
    reply = [dict(m) for m in current.messages[len(task.prompt.messages) :]]
    reply[-1]["content"] = content
    return {"messages": reply, "tools": current.tools}
