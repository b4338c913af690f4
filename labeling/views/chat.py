"""A labeler's chat task: the conversation page's saves and submit, the ranking of a turn's replies, and
the calls to the model. The calls live under /stream/, served by threaded workers (docs/operations.md), so
a reply being streamed never holds one of the sync workers that serve the other pages."""

import json
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.errors import DomainError, NotFound
from core.forms import form_errors_text
from core.pages import hx_redirect, is_htmx, json_errors
from core.types import AuthedRequest
from labeling.forms import RankingForm
from labeling.models import Assignment, Candidate
from labeling.selectors.chat import chat_turn_board
from labeling.selectors.work import work_context
from labeling.services import chat
from labeling.views.work import _render_task


def _body(request: AuthedRequest, assignment_id: int) -> dict[str, Any]:
    """The JSON the page sends: {"messages": [...], "seconds", ...}. Someone else's assignment is missing."""
    if not Assignment.objects.filter(pk=assignment_id, labeler_id=request.user.pk).exists():
        raise NotFound("no such assignment")
    if request.content_type != "application/json":
        raise DomainError("send the conversation as JSON (application/json)", field="messages")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise DomainError("the body must be JSON", field="messages") from None
    if not isinstance(body, dict):
        raise DomainError("the body must be a JSON object", field="messages")
    return body


@login_required
@require_POST
@json_errors
def chat_draft_save(request: AuthedRequest, assignment_id: int) -> JsonResponse:
    body = _body(request, assignment_id)
    draft = chat.chat_draft_save(
        assignment_id=assignment_id,
        labeler=request.user,
        messages=body.get("messages") or [],
        seconds=body.get("seconds", 0),
    )
    return JsonResponse({"saved_at": draft.updated_at.isoformat()})


@login_required
@require_POST
@json_errors
def chat_submit(request: AuthedRequest, assignment_id: int) -> JsonResponse:
    body = _body(request, assignment_id)
    chat.chat_submit(
        assignment_id=assignment_id,
        labeler=request.user,
        messages=body.get("messages"),
        seconds=body.get("seconds", 0),
    )
    project_id = work_context(assignment_id=assignment_id, user=request.user).project.pk
    return JsonResponse({"next": reverse("labeling:next", args=[project_id])})


@login_required
@require_POST
@json_errors
def chat_search(request: AuthedRequest, assignment_id: int) -> JsonResponse:
    """The assistant's search: the conversation comes back with the call and its result at its end."""
    body = _body(request, assignment_id)
    conversation = chat.chat_search(
        assignment_id=assignment_id,
        labeler=request.user,
        messages=body.get("messages"),
        query=body.get("query"),
        seconds=body.get("seconds"),
    )
    return JsonResponse({"messages": conversation.with_turns()})


def _events(events: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for event in events:
        yield b"data: " + json.dumps(event).encode() + b"\n\n"


@login_required
@require_POST
@json_errors
def chat_reply(request: AuthedRequest, assignment_id: int) -> StreamingHttpResponse:
    """The model's reply to the conversation, streamed as server-sent events as it is written."""
    body = _body(request, assignment_id)
    call = chat.chat_reply_begin(
        assignment_id=assignment_id,
        labeler=request.user,
        messages=body.get("messages"),
        seconds=body.get("seconds"),
    )
    response = StreamingHttpResponse(_events(chat.chat_reply_stream(call)), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx passes each piece on as it comes
    return response


@login_required
@require_POST
@json_errors
def chat_alternatives(request: AuthedRequest, assignment_id: int) -> JsonResponse:
    """Sample K-1 more replies at an assistant turn; the page then opens their ranking."""
    body = _body(request, assignment_id)
    call, wanted = chat.chat_alternatives_begin(
        assignment_id=assignment_id,
        labeler=request.user,
        messages=body.get("messages"),
        index=body.get("index"),
        seconds=body.get("seconds"),
    )
    turn = chat.chat_alternatives_sample(call=call, n=wanted)
    url = reverse("labeling:chat-rank", args=[assignment_id, turn.pk])
    return JsonResponse({"turn": turn.pk, "candidates": len(turn.candidate_ids), "rank_url": url})


@login_required
def chat_rank(request: AuthedRequest, assignment_id: int, turn_id: int) -> HttpResponse:
    """GET: the turn's K replies on the ranking widget; POST: the ranking, then back to the conversation."""
    ctx = work_context(assignment_id=assignment_id, user=request.user)
    turn = chat.chat_turn_of(assignment=ctx.assignment, turn_id=turn_id)
    by_id = Candidate.objects.in_bulk(turn.candidate_ids)
    ctx.candidates = [by_id[cid] for cid in turn.candidate_ids if cid in by_id]
    if request.method != "POST":
        ctx.ranking_draft, ctx.submitted_ranking = chat_turn_board(turn)
        return _render_task(request, ctx, chat_rank=turn, full_page=not is_htmx(request))
    form = RankingForm(request.POST, candidates=ctx.candidates, tiers=len(ctx.candidates))
    if not form.is_valid():
        return _render_task(
            request, ctx, form=form, chat_rank=turn, status=400, full_page=not is_htmx(request)
        )
    try:
        chat.chat_turn_rank(
            assignment_id=assignment_id,
            labeler=request.user,
            turn_id=turn.pk,
            **form.ranking(),
        )
    except DomainError as exc:
        return _render_task(
            request,
            ctx,
            form=form,
            error=exc.detail or form_errors_text(form),
            chat_rank=turn,
            status=exc.status,
            full_page=not is_htmx(request),
        )
    return hx_redirect(request, reverse("labeling:assignment", args=[assignment_id]))


@login_required
@require_POST
@json_errors
def chat_rank_draft(request: AuthedRequest, assignment_id: int, turn_id: int) -> JsonResponse:
    """Keep the ranking of a turn's replies as it stands, so that a reload finds it again."""
    ctx = work_context(assignment_id=assignment_id, user=request.user)
    turn = chat.chat_turn_of(assignment=ctx.assignment, turn_id=turn_id)
    candidates = list(Candidate.objects.filter(pk__in=turn.candidate_ids))
    form = RankingForm(request.POST, candidates=candidates, tiers=len(candidates), partial=True)
    if not form.is_valid():
        raise DomainError(form_errors_text(form) or "invalid draft", field=next(iter(form.errors), None))
    turn = chat.chat_turn_draft_save(
        assignment_id=assignment_id,
        labeler=request.user,
        turn_id=turn.pk,
        placement=form.placement(),
        ratings=form.ratings(),
        all_bad=form.cleaned_data["all_bad"],
        seconds=form.cleaned_data["seconds"] or 0.0,
    )
    assert turn.ranking_draft is not None
    return JsonResponse({"saved_at": turn.ranking_draft["saved_at"]})
