"""A labeler's pages: lease the next task, rank or write, save a draft, search, skip, release, renew.
HTMX requests get the partial they swap."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError, NotAllowed, NotFound
from core.forms import form_errors_text
from core.markdown import render_chat_text
from core.pages import hx_redirect, is_htmx, json_errors
from core.text import sentence
from core.types import AuthedRequest
from labeling import search
from labeling.access import assignment_role, project_for, project_nav
from labeling.conversation import prompt_text
from labeling.forms import (
    BOOLEAN_FLAGS,
    FLAG_LABELS,
    OVERALL,
    DemonstrationForm,
    EvaluationForm,
    RankingForm,
    SearchForm,
    SkipForm,
    letter,
    ranking_form_data,
)
from labeling.guideline_parts import guideline_for_kind
from labeling.models import Assignment, ChatTurn, Project, Role, TaskKind
from labeling.selectors.chat import chat_page_context
from labeling.selectors.projects import home_overview
from labeling.selectors.work import SIDES, WorkContext, search_document_reading, work_context
from labeling.services import drafts
from labeling.services.annotations import ranking_revise, ranking_submit
from labeling.services.evaluation import evaluation_draft_save, evaluation_vote_submit
from labeling.services.queue import (
    GuidelineNotAcknowledged,
    assignment_release,
    assignment_renew,
    assignment_skip,
    claim_next_task,
)
from labeling.views.display import conversation, query_int


@login_required
@require_http_methods(["GET", "POST"])
def next_task(request: AuthedRequest, project_id: int) -> HttpResponse:
    """GET: a page to start from; POST: lease the next task and open it."""
    project, role = project_for(request.user, project_id, Role.LABELER)
    if request.method == "GET":
        context = project_nav(project, role, "work") | {"waiting": _waiting(request, project)}
        return render(request, "labeling/next.html", context)
    return _claim_and_show(request, project)


def _waiting(request: AuthedRequest, project: Project) -> int:
    return next((r.waiting for r in home_overview(user=request.user) if r.project.pk == project.pk), 0)


def _claim_and_show(
    request: AuthedRequest, project: Project, notice: str = "", change_url: str = ""
) -> HttpResponse:
    """Lease the next task; an HTMX request gets it swapped into the page, others are redirected.
    `change_url` is where the work just submitted can still be changed."""
    try:
        assignment = claim_next_task(project=project, labeler=request.user)
    except GuidelineNotAcknowledged as exc:
        messages.info(request, f"{sentence(exc.detail).rstrip('.')}: read what changed below.")
        return hx_redirect(request, reverse("labeling:home"))
    next_url = reverse("labeling:next", args=[project.pk])
    if assignment is None:
        if is_htmx(request):
            context = {"project": project, "notice": notice, "change_url": change_url}
            response = render(request, "labeling/_task_empty.html", context)
            response["HX-Push-Url"] = next_url
            return response
        if notice:
            messages.success(request, notice)
        messages.info(request, "No task is waiting in this project right now.")
        return redirect(next_url)
    url = reverse("labeling:assignment", args=[assignment.pk])
    if not is_htmx(request):
        if notice:
            messages.success(request, notice)
        return redirect(url)
    ctx = work_context(assignment_id=assignment.pk, user=request.user)
    response = _render_task(request, ctx, notice=notice, change_url=change_url)
    response["HX-Push-Url"] = url
    return response


@login_required
def assignment_page(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    ctx = work_context(assignment_id=assignment_id, user=request.user)
    return _render_task(request, ctx, full_page=not is_htmx(request))


def _render_task(
    request: AuthedRequest,
    ctx: WorkContext,
    *,
    form: Any = None,
    error: str = "",
    notice: str = "",
    change_url: str = "",
    status: int = 200,
    full_page: bool = False,
    chat_rank: ChatTurn | None = None,
) -> HttpResponse:
    """The task area of a labeler's page, for its kind; a bound form keeps what they had entered.
    `chat_rank`: the ranking of a chat turn's replies, on the ranking page's widget."""
    assignment, task = ctx.assignment, ctx.task
    live = assignment.state == Assignment.State.ACTIVE and not _lease_over(assignment)
    changing = not live and ctx.submitted_ranking is not None and ctx.submitted_ranking.changeable
    context: dict[str, Any] = project_nav(ctx.project, ctx.role, "work") | {
        "ctx": ctx,
        "assignment": assignment,
        "task": task,
        "live": live,
        "changing": changing,
        "error": error or form_errors_text(form),
        "notice": notice,
        "change_url": change_url,
        "full_page": full_page,
        "conversation": conversation(task.prompt.messages),
        "prompt_preview": prompt_text(task.prompt.messages)[:80],
        "chat_rank": chat_rank,
    }
    if chat_rank is not None:
        context |= _ranking_context(ctx, form)
        context["conversation"] = conversation(chat_rank.prompt.messages)
    elif task.kind == TaskKind.CHAT:
        context |= chat_page_context(ctx.assignment, live=live)
        version = ctx.guideline_version
        context |= {
            "guideline_version": version,
            "guideline": guideline_for_kind(version.body, task.kind) if version else None,
        }
    elif task.kind == TaskKind.RANKING:
        context |= _ranking_context(ctx, form)
    elif task.kind == TaskKind.EVALUATION:
        context |= _evaluation_context(ctx, form)
    else:
        context |= _writing_context(ctx, form)
    context["clock"] = _clock(context["seconds"])
    template = "labeling/assignment.html" if full_page else "labeling/_task.html"
    return render(request, template, context, status=status)


def _clock(seconds: Any) -> str:
    """Time on task as the page's clock shows it (m:ss), so the header reads whole before the first tick."""
    try:
        whole = max(0, int(float(seconds)))
    except (TypeError, ValueError, OverflowError):
        whole = 0
    return f"{whole // 60}:{whole % 60:02d}"


def _lease_over(assignment: Assignment) -> bool:
    return assignment.lease_expires_at <= timezone.now()


def _ranking_context(ctx: WorkContext, form: RankingForm | None) -> dict[str, Any]:
    """The ranking as the labeler left it: what they just posted, else their saved draft, else (when
    they change a submitted ranking) its current revision."""
    data: Any = {}
    if form is not None:
        data = form.data
    elif (draft := ctx.ranking_draft) is not None:
        placement = {int(pk): tier for pk, tier in draft.placement.items()}
        data = ranking_form_data(
            placement=placement, ratings=draft.ratings, all_bad=draft.all_bad, seconds=draft.seconds
        )
    elif (submitted := ctx.submitted_ranking) is not None:
        data = ranking_form_data(
            placement=submitted.placement, ratings=submitted.ratings, all_bad=submitted.all_bad, seconds=0
        )
    cards = []
    for i, c in enumerate(ctx.candidates):
        cards.append(
            {
                "id": c.pk,
                "letter": letter(i),
                "html": render_chat_text(c.text),
                "preview": " ".join(c.text.split())[:90],
                "tier": data.get(f"tier-{c.pk}", ""),
                "overall": data.get(f"overall-{c.pk}", ""),
                "flags": [
                    {"name": f, "label": FLAG_LABELS[f], "checked": bool(data.get(f"{f}-{c.pk}"))}
                    for f in BOOLEAN_FLAGS
                ],
                "satisfies": data.get(f"satisfies_constraints-{c.pk}", ""),
            }
        )
    return {
        "cards": cards,
        "tier_numbers": [str(n) for n in range(1, len(cards) + 1)],
        "overall_choices": [str(n) for n in OVERALL],
        "all_bad": bool(data.get("all_bad")),
        "draft_saved_at": ctx.ranking_draft.updated_at if ctx.ranking_draft else None,
        "seconds": data.get("seconds", "0"),
        "skip_reason": data.get("reason", ""),
    }


def _evaluation_context(ctx: WorkContext, form: EvaluationForm | None) -> dict[str, Any]:
    """The two answers by side and letter only (no model, no candidate id: the vote is blind), and the
    vote as the labeler left it: what they just posted, else their saved draft."""
    data: Any = {}
    if form is not None:
        data = form.data
    elif (draft := ctx.evaluation_draft) is not None:
        data = {"choice": draft.choice, "why": draft.reason, "seconds": str(round(draft.seconds))}
    answers = [
        {"side": side, "letter": letter(i), "html": render_chat_text(c.text)}
        for i, (side, c) in enumerate(zip(SIDES, ctx.candidates, strict=True))
    ]
    version = ctx.guideline_version
    return {
        "answers": answers,
        "choice": data.get("choice", ""),
        "reason": data.get("why", ""),
        "seconds": data.get("seconds", "0"),
        "skip_reason": data.get("reason", ""),
        "draft_saved_at": ctx.evaluation_draft.updated_at if ctx.evaluation_draft else None,
        "guideline_version": version,
        "guideline": guideline_for_kind(version.body, TaskKind.EVALUATION) if version else None,
    }


def _writing_context(ctx: WorkContext, form: DemonstrationForm | None) -> dict[str, Any]:
    draft = ctx.draft
    model_draft = ctx.model_draft
    if form is not None:
        content = form.data.get("content", "")
        picks = {(p[0], p[1]) for p in form.picks()}
        seconds = form.data.get("seconds", "0")
        pasted = form.data.get("pasted_chars", "0")
    else:
        # A refusal task from a probe comes with a suggested honest reply: the labeler approves or edits it.
        # Otherwise, with the project's model drafts on, the reply starts from the model version's draft.
        content = draft.content if draft else ctx.task.prompt.metadata.get("suggested_reply", "")
        if draft is None and not content and model_draft is not None:
            content = model_draft.text
        picks = {(p[0], p[1]) for p in draft.picks} if draft else set()
        seconds = str(draft.seconds) if draft else "0"
        pasted = str(draft.pasted_chars) if draft else "0"
    searches = [
        _search_step(ctx.assignment.pk, i, step, picks)
        for i, step in enumerate(draft.searches if draft else [])
    ]
    version = ctx.guideline_version
    return {
        "content": content,
        "suggested": draft is None and form is None and bool(content) and model_draft is None,
        "model_draft": model_draft,
        "model_drafted": draft is None and form is None and model_draft is not None,
        "seconds": seconds,
        "pasted_chars": pasted,
        "searches": searches,
        "saved_at": draft.updated_at if draft else None,
        "guideline_version": version,
        "guideline": guideline_for_kind(version.body, ctx.task.kind) if version else None,
    }


def _search_step(
    assignment_id: int, index: int, step: dict[str, Any], picks: set[tuple[int, int]]
) -> dict[str, Any]:
    return {
        "index": index,
        "query": step["query"],
        "results": [
            {
                "id": r["id"],
                "title": r["title"],
                "url": r["url"],
                "headline": search.headline_html(r["headline"]),
                "picked": (index, r["id"]) in picks,
                "read_url": reverse("labeling:search-document", args=[assignment_id, r["id"]])
                + f"?search={index}",
            }
            for r in step["results"]
        ],
    }


@login_required
@require_POST
def rank_submit(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    ctx = work_context(assignment_id=assignment_id, user=request.user)
    form = RankingForm(request.POST, candidates=ctx.candidates, tiers=len(ctx.candidates))
    if not form.is_valid():
        return _render_task(request, ctx, form=form, status=400, full_page=not is_htmx(request))
    try:
        ranking_submit(
            assignment_id=assignment_id,
            labeler=request.user,
            **form.ranking(),
        )
    except DomainError as exc:
        return _render_task(
            request, ctx, form=form, error=exc.detail, status=exc.status, full_page=not is_htmx(request)
        )
    change_url = reverse("labeling:assignment", args=[assignment_id])
    return _claim_and_show(request, ctx.project, notice="Ranking saved.", change_url=change_url)


@login_required
@require_POST
def rank_change(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    """Change one's own submitted ranking until a reviewer has looked at it."""
    ctx = work_context(assignment_id=assignment_id, user=request.user)
    form = RankingForm(request.POST, candidates=ctx.candidates, tiers=len(ctx.candidates))
    if not form.is_valid():
        return _render_task(request, ctx, form=form, status=400, full_page=not is_htmx(request))
    try:
        ranking_revise(
            assignment_id=assignment_id,
            labeler=request.user,
            **form.ranking(),
        )
    except DomainError as exc:
        ctx = work_context(assignment_id=assignment_id, user=request.user)
        return _render_task(
            request, ctx, form=form, error=exc.detail, status=exc.status, full_page=not is_htmx(request)
        )
    return _claim_and_show(request, ctx.project, notice="Your changes to the ranking are saved.")


@login_required
@require_POST
@json_errors
def rank_draft_save(request: AuthedRequest, assignment_id: int) -> JsonResponse:
    """Keep the ranking as it stands (placed answers, ratings, flags), so that a reload finds it again."""
    ctx = work_context(assignment_id=assignment_id, user=request.user)
    form = RankingForm(request.POST, candidates=ctx.candidates, tiers=len(ctx.candidates), partial=True)
    if not form.is_valid():
        raise DomainError(form_errors_text(form) or "invalid draft", field=next(iter(form.errors), None))
    draft = drafts.ranking_draft_save(
        assignment_id=assignment_id,
        labeler=request.user,
        placement=form.placement(),
        ratings=form.ratings(),
        all_bad=form.cleaned_data["all_bad"],
        seconds=form.cleaned_data["seconds"] or 0.0,
    )
    return JsonResponse({"saved_at": draft.updated_at.isoformat()})


@login_required
@require_POST
def evaluate_submit(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    ctx = work_context(assignment_id=assignment_id, user=request.user)
    form = EvaluationForm(request.POST)
    if not form.is_valid():
        return _render_task(request, ctx, form=form, status=400, full_page=not is_htmx(request))
    try:
        evaluation_vote_submit(
            assignment_id=assignment_id,
            labeler=request.user,
            choice=form.cleaned_data["choice"],
            reason=form.cleaned_data["why"],
            seconds=form.cleaned_data["seconds"] or 0.0,
        )
    except DomainError as exc:
        return _render_task(
            request, ctx, form=form, error=exc.detail, status=exc.status, full_page=not is_htmx(request)
        )
    return _claim_and_show(request, ctx.project, notice="Vote saved.")


@login_required
@require_POST
@json_errors
def evaluate_draft_save(request: AuthedRequest, assignment_id: int) -> JsonResponse:
    """Keep the vote as it stands (the choice so far, the reason being written), so a reload finds it."""
    form = EvaluationForm(request.POST, partial=True)
    if not form.is_valid():
        raise DomainError(form_errors_text(form) or "invalid draft", field=next(iter(form.errors), None))
    try:
        draft = evaluation_draft_save(
            assignment_id=assignment_id,
            labeler=request.user,
            choice=form.cleaned_data["choice"],
            reason=form.cleaned_data["why"],
            seconds=form.cleaned_data["seconds"] or 0.0,
        )
    except NotAllowed:
        raise NotFound("no such assignment") from None
    return JsonResponse({"saved_at": draft.updated_at.isoformat()})


@login_required
@require_POST
def write_submit(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    ctx = work_context(assignment_id=assignment_id, user=request.user)
    form = DemonstrationForm(request.POST)
    if not form.is_valid():
        return _render_task(request, ctx, form=form, status=400, full_page=not is_htmx(request))
    try:
        drafts.demonstration_draft_submit(
            assignment_id=assignment_id,
            labeler=request.user,
            content=form.cleaned_data["content"],
            seconds=form.cleaned_data["seconds"] or 0.0,
            pasted_chars=form.cleaned_data["pasted_chars"] or 0,
            picks=form.picks(),
            model_draft=form.cleaned_data["model_draft"],
        )
    except DomainError as exc:
        return _render_task(
            request, ctx, form=form, error=exc.detail, status=exc.status, full_page=not is_htmx(request)
        )
    return _claim_and_show(request, ctx.project, notice="Demonstration saved.")


@login_required
@require_POST
@json_errors
def draft_save(request: AuthedRequest, assignment_id: int) -> JsonResponse:
    form = DemonstrationForm(request.POST)
    if not form.is_valid():
        raise DomainError(form_errors_text(form) or "invalid draft", field=next(iter(form.errors), None))
    try:
        draft = drafts.demonstration_draft_save(
            assignment_id=assignment_id,
            labeler=request.user,
            content=form.cleaned_data["content"],
            seconds=form.cleaned_data["seconds"] or 0.0,
            pasted_chars=form.cleaned_data["pasted_chars"] or 0,
            picks=form.picks() if "picks_sent" in request.POST else None,
            model_draft=form.cleaned_data["model_draft"],
        )
    except NotAllowed:
        raise NotFound("no such assignment") from None
    return JsonResponse({"saved_at": draft.updated_at.isoformat()})


@login_required
@require_POST
def search_run(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    form = SearchForm(request.POST)
    if not form.is_valid():
        raise DomainError(form_errors_text(form) or "write what to search for", field="query")
    try:
        index, step = drafts.search_run(
            assignment_id=assignment_id, labeler=request.user, query=form.cleaned_data["query"]
        )
    except NotAllowed:
        raise NotFound("no such assignment") from None
    except DomainError as exc:
        response = render(request, "core/_error.html", {"error": exc}, status=exc.status)
        response["HX-Retarget"] = "#search-status"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(
        request, "labeling/_search_step.html", {"step": _search_step(assignment_id, index, step, set())}
    )


@login_required
@require_GET
def search_document(request: AuthedRequest, assignment_id: int, document_id: int) -> HttpResponse:
    """A whole document, read before citing it: in the page's reading panel, or as a page of its own."""
    ctx = work_context(assignment_id=assignment_id, user=request.user)
    search_index = query_int(request.GET.get("search"), -1, low=-1) if "search" in request.GET else None
    reading = search_document_reading(
        assignment=ctx.assignment, document_id=document_id, search_index=search_index
    )
    context = project_nav(ctx.project, ctx.role, "work") | {
        "assignment": ctx.assignment,
        "reading": reading,
        "text_html": search.headline_html(reading.marked),
    }
    template = "labeling/_document.html" if is_htmx(request) else "labeling/document.html"
    return render(request, template, context)


@login_required
@require_POST
def preview(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    assignment = Assignment.objects.select_related("task__project").filter(pk=assignment_id).first()
    if assignment is None or assignment.labeler_id != request.user.pk:
        raise NotFound("no such assignment")
    assignment_role(user=request.user, assignment=assignment)  # a removed member previews nothing
    return HttpResponse(render_chat_text(request.POST.get("content", "")[:100_000]))


@login_required
@require_POST
def skip(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    ctx = work_context(assignment_id=assignment_id, user=request.user)
    form = SkipForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        assignment_skip(assignment_id=assignment_id, labeler=request.user, reason=reason)
    except DomainError as exc:
        kept: Any = None
        if ctx.task.kind == TaskKind.RANKING:
            kept = RankingForm(request.POST, candidates=ctx.candidates, tiers=len(ctx.candidates))
        elif ctx.task.kind == TaskKind.EVALUATION:
            kept = EvaluationForm(request.POST, partial=True)
        else:
            kept = DemonstrationForm(request.POST)
        return _render_task(
            request, ctx, form=kept, error=exc.detail, status=exc.status, full_page=not is_htmx(request)
        )
    return _claim_and_show(request, ctx.project, notice="Task skipped.")


@login_required
@require_POST
def release(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    try:
        assignment_release(assignment_id=assignment_id, labeler=request.user)
    except NotAllowed:
        raise NotFound("no such assignment") from None
    messages.info(request, "The task went back to the pool.")
    return hx_redirect(request, reverse("labeling:home"))


@login_required
@require_POST
@json_errors
def renew(request: AuthedRequest, assignment_id: int) -> JsonResponse:
    try:
        assignment = assignment_renew(assignment_id=assignment_id, labeler=request.user)
    except NotAllowed:
        raise NotFound("no such assignment") from None
    return JsonResponse({"lease_expires_at": assignment.lease_expires_at.isoformat()})
