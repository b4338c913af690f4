"""Web pages: parse, check who may do it, call a service, render. HTMX requests get the partial they swap."""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from config.errors import DomainError, NotAllowed, NotFound
from guidelines.selectors import guideline_version_diff
from labeling import importing, search, selectors, services
from labeling.conversation import prompt_text
from labeling.forms import (
    BOOLEAN_FLAGS,
    FLAG_LABELS,
    OVERALL,
    CorpusForm,
    DemonstrationForm,
    ImportForm,
    MemberForm,
    ProjectForm,
    ProjectSettingsForm,
    RankingForm,
    ReviewForm,
    SearchForm,
    SkipForm,
    TierEditForm,
    letter,
)
from labeling.markdown import render_markdown
from labeling.models import Assignment, Candidate, Demonstration, Project, Role, SearchCorpus, Task, TaskKind
from labeling.permissions import RANK, require_role

View = Callable[..., HttpResponse]


# --- plumbing --------------------------------------------------------------------------------------


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def domain_errors(view: View) -> View:
    """Show a domain error as a page (or as the swapped partial) with its HTTP status."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            template = "labeling/_error.html" if is_htmx(request) else "labeling/error.html"
            return render(request, template, {"error": exc}, status=exc.status)

    return wrapped


def member_project(request: HttpRequest, project_id: int, role: str) -> tuple[Project, str]:
    """The project, if the user holds `role` in it; non-members get a 404, lower roles a 403."""
    project = Project.objects.select_related("guideline").filter(pk=project_id).first()
    if project is None:
        raise NotFound("no such project")
    return project, require_role(user=request.user, project=project, role=role)


def project_nav(project: Project, role: str, active: str) -> dict[str, Any]:
    """Context for the project tabs; a tab shows only to the roles that may open it."""
    return {
        "project": project,
        "role": role,
        "active": active,
        "can": {r: RANK[role] >= RANK[r] for r in RANK},
    }


def _hx_redirect(request: HttpRequest, url: str) -> HttpResponse:
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def conversation(messages_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages ready to show: markdown rendered safely, tool calls and results as text."""
    shown = []
    for m in messages_:
        calls = [
            {
                "name": (call.get("function") or {}).get("name", ""),
                "arguments": _pretty((call.get("function") or {}).get("arguments", {})),
            }
            for call in m.get("tool_calls") or []
        ]
        content = m.get("content") or ""
        shown.append(
            {
                "role": m.get("role", ""),
                "html": render_markdown(content) if m.get("role") != "tool" and content else "",
                "text": _pretty(content) if m.get("role") == "tool" else "",
                "tool_calls": calls,
            }
        )
    return shown


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, indent=2)


# --- home and guideline acknowledgement -----------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    rows = selectors.home_overview(user=request.user)
    pending = []
    for row in rows:
        # Whoever published a version has read it.
        if row.pending_version is None or row.pending_version.author_id == request.user.pk:
            continue
        diff = []
        if row.acknowledged_version is not None:
            diff = guideline_version_diff(old=row.acknowledged_version, new=row.pending_version)[2:]
        pending.append({"row": row, "html": render_markdown(row.pending_version.body), "diff": diff})
    return render(request, "labeling/home.html", {"rows": rows, "pending": pending})


# --- working on tasks ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def next_task(request: HttpRequest, project_id: int) -> HttpResponse:
    """GET: a page to start from; POST: lease the next task and open it."""
    project, role = member_project(request, project_id, Role.LABELER)
    if request.method == "GET":
        context = project_nav(project, role, "work") | {"waiting": _waiting(request, project)}
        return render(request, "labeling/next.html", context)
    return _claim_and_show(request, project)


def _waiting(request: HttpRequest, project: Project) -> int:
    return next(
        (r.waiting for r in selectors.home_overview(user=request.user) if r.project.pk == project.pk), 0
    )


def _claim_and_show(request: HttpRequest, project: Project, notice: str = "") -> HttpResponse:
    """Lease the next task; an HTMX request gets it swapped into the page, others are redirected."""
    try:
        assignment = services.claim_next_task(project=project, labeler=request.user)
    except services.GuidelineNotAcknowledged as exc:
        messages.info(request, f"{exc.detail}: read what changed below.")
        return _hx_redirect(request, reverse("labeling:home"))
    next_url = reverse("labeling:next", args=[project.pk])
    if assignment is None:
        if is_htmx(request):
            context = {"project": project, "notice": notice}
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
    ctx = selectors.work_context(assignment_id=assignment.pk, user=request.user)
    response = _render_task(request, ctx, notice=notice)
    response["HX-Push-Url"] = url
    return response


@login_required
@domain_errors
def assignment_page(request: HttpRequest, assignment_id: int) -> HttpResponse:
    ctx = selectors.work_context(assignment_id=assignment_id, user=request.user)
    return _render_task(request, ctx, full_page=not is_htmx(request))


def _render_task(
    request: HttpRequest,
    ctx: selectors.WorkContext,
    *,
    form: Any = None,
    error: str = "",
    notice: str = "",
    status: int = 200,
    full_page: bool = False,
) -> HttpResponse:
    """The task area of a labeler's page, for its kind; a bound form keeps what they had entered."""
    assignment, task = ctx.assignment, ctx.task
    live = assignment.state == Assignment.State.ACTIVE and not _lease_over(assignment)
    context: dict[str, Any] = project_nav(ctx.project, ctx.role, "work") | {
        "ctx": ctx,
        "assignment": assignment,
        "task": task,
        "live": live,
        "error": error or _form_error(form),
        "notice": notice,
        "full_page": full_page,
        "conversation": conversation(task.prompt.messages),
        "prompt_preview": prompt_text(task.prompt.messages)[:80],
    }
    if task.kind == TaskKind.RANKING:
        context |= _ranking_context(ctx, form)
    else:
        context |= _writing_context(ctx, form)
    template = "labeling/assignment.html" if full_page else "labeling/_task.html"
    return render(request, template, context, status=status)


def _lease_over(assignment: Assignment) -> bool:
    return assignment.lease_expires_at <= timezone.now()


def _form_error(form: Any) -> str:
    if form is None or not form.errors:
        return ""
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _ranking_context(ctx: selectors.WorkContext, form: RankingForm | None) -> dict[str, Any]:
    data = form.data if form is not None else {}
    cards = []
    for i, c in enumerate(ctx.candidates):
        cards.append(
            {
                "id": c.pk,
                "letter": letter(i),
                "html": render_markdown(c.text),
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
        "seconds": data.get("seconds", "0"),
        "skip_reason": data.get("reason", ""),
    }


def _writing_context(ctx: selectors.WorkContext, form: DemonstrationForm | None) -> dict[str, Any]:
    draft = ctx.draft
    if form is not None:
        content = form.data.get("content", "")
        picks = {tuple(p) for p in form.picks()}
        seconds = form.data.get("seconds", "0")
        pasted = form.data.get("pasted_chars", "0")
    else:
        # A refusal task from a probe comes with a suggested honest reply: the labeler approves or edits it.
        content = draft.content if draft else ctx.task.prompt.metadata.get("suggested_reply", "")
        picks = {tuple(p) for p in draft.picks} if draft else set()
        seconds = str(draft.seconds) if draft else "0"
        pasted = str(draft.pasted_chars) if draft else "0"
    searches = [_search_step(i, step, picks) for i, step in enumerate(draft.searches if draft else [])]
    version = ctx.guideline_version
    return {
        "content": content,
        "suggested": draft is None and form is None and bool(content),
        "seconds": seconds,
        "pasted_chars": pasted,
        "searches": searches,
        "saved_at": draft.updated_at if draft else None,
        "guideline_version": version,
        "guideline_html": render_markdown(version.body) if version else "",
    }


def _search_step(index: int, step: dict[str, Any], picks: set[tuple[int, int]]) -> dict[str, Any]:
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
            }
            for r in step["results"]
        ],
    }


@login_required
@require_POST
@domain_errors
def rank_submit(request: HttpRequest, assignment_id: int) -> HttpResponse:
    ctx = selectors.work_context(assignment_id=assignment_id, user=request.user)
    form = RankingForm(request.POST, candidates=ctx.candidates, tiers=len(ctx.candidates))
    if not form.is_valid():
        return _render_task(request, ctx, form=form, status=400, full_page=not is_htmx(request))
    try:
        services.ranking_submit(
            assignment_id=assignment_id,
            labeler=request.user,
            tiers=form.tiers() if not (form.cleaned_data["all_bad"] and not form.tiers()) else [],
            ratings=form.ratings(),
            all_bad=form.cleaned_data["all_bad"],
            seconds=form.cleaned_data["seconds"] or 0.0,
        )
    except DomainError as exc:
        return _render_task(
            request, ctx, form=form, error=exc.detail, status=exc.status, full_page=not is_htmx(request)
        )
    return _claim_and_show(request, ctx.project, notice="Ranking saved.")


@login_required
@require_POST
@domain_errors
def write_submit(request: HttpRequest, assignment_id: int) -> HttpResponse:
    ctx = selectors.work_context(assignment_id=assignment_id, user=request.user)
    form = DemonstrationForm(request.POST)
    if not form.is_valid():
        return _render_task(request, ctx, form=form, status=400, full_page=not is_htmx(request))
    try:
        services.demonstration_draft_submit(
            assignment_id=assignment_id,
            labeler=request.user,
            content=form.cleaned_data["content"],
            seconds=form.cleaned_data["seconds"] or 0.0,
            pasted_chars=form.cleaned_data["pasted_chars"] or 0,
            picks=form.picks(),
        )
    except DomainError as exc:
        return _render_task(
            request, ctx, form=form, error=exc.detail, status=exc.status, full_page=not is_htmx(request)
        )
    return _claim_and_show(request, ctx.project, notice="Demonstration saved.")


@login_required
@require_POST
def draft_save(request: HttpRequest, assignment_id: int) -> JsonResponse:
    form = DemonstrationForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": "invalid", "detail": _form_error(form)}, status=400)
    try:
        draft = services.demonstration_draft_save(
            assignment_id=assignment_id,
            labeler=request.user,
            content=form.cleaned_data["content"],
            seconds=form.cleaned_data["seconds"] or 0.0,
            pasted_chars=form.cleaned_data["pasted_chars"] or 0,
            picks=form.picks() if "picks_sent" in request.POST else None,
        )
    except NotAllowed:
        return JsonResponse({"error": "not_found", "detail": "no such assignment"}, status=404)
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    return JsonResponse({"saved_at": draft.updated_at.isoformat()})


@login_required
@require_POST
@domain_errors
def search_run(request: HttpRequest, assignment_id: int) -> HttpResponse:
    form = SearchForm(request.POST)
    if not form.is_valid():
        raise DomainError(_form_error(form) or "write what to search for", field="query")
    try:
        index, step = services.search_run(
            assignment_id=assignment_id, labeler=request.user, query=form.cleaned_data["query"]
        )
    except NotAllowed:
        raise NotFound("no such assignment") from None
    except DomainError as exc:
        response = render(request, "labeling/_error.html", {"error": exc}, status=exc.status)
        response["HX-Retarget"] = "#search-status"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "labeling/_search_step.html", {"step": _search_step(index, step, set())})


@login_required
@require_POST
@domain_errors
def preview(request: HttpRequest, assignment_id: int) -> HttpResponse:
    if not Assignment.objects.filter(pk=assignment_id, labeler_id=request.user.pk).exists():
        raise NotFound("no such assignment")
    return HttpResponse(render_markdown(request.POST.get("content", "")[:100_000]))


@login_required
@require_POST
@domain_errors
def skip(request: HttpRequest, assignment_id: int) -> HttpResponse:
    ctx = selectors.work_context(assignment_id=assignment_id, user=request.user)
    form = SkipForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.assignment_skip(assignment_id=assignment_id, labeler=request.user, reason=reason)
    except DomainError as exc:
        kept: Any = None
        if ctx.task.kind == TaskKind.RANKING:
            kept = RankingForm(request.POST, candidates=ctx.candidates, tiers=len(ctx.candidates))
        else:
            kept = DemonstrationForm(request.POST)
        return _render_task(
            request, ctx, form=kept, error=exc.detail, status=exc.status, full_page=not is_htmx(request)
        )
    return _claim_and_show(request, ctx.project, notice="Task skipped.")


@login_required
@require_POST
@domain_errors
def release(request: HttpRequest, assignment_id: int) -> HttpResponse:
    try:
        services.assignment_release(assignment_id=assignment_id, labeler=request.user)
    except NotAllowed:
        raise NotFound("no such assignment") from None
    messages.info(request, "The task went back to the pool.")
    return _hx_redirect(request, reverse("labeling:home"))


@login_required
@require_POST
def renew(request: HttpRequest, assignment_id: int) -> JsonResponse:
    try:
        assignment = services.assignment_renew(assignment_id=assignment_id, labeler=request.user)
    except NotAllowed:
        return JsonResponse({"error": "not_found", "detail": "no such assignment"}, status=404)
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    return JsonResponse({"lease_expires_at": assignment.lease_expires_at.isoformat()})


# --- review ----------------------------------------------------------------------------------------


@login_required
@domain_errors
def review_queue(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = member_project(request, project_id, Role.REVIEWER)
    pending_only = request.GET.get("show") != "all"
    page = max(1, _int(request.GET.get("page"), 1))
    per_page = 50
    rows, more = selectors.review_queue(
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


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


@login_required
@domain_errors
def task_review(request: HttpRequest, task_id: int) -> HttpResponse:
    task = Task.objects.select_related("prompt", "project__guideline").filter(pk=task_id).first()
    if task is None:
        raise NotFound("no such task")
    role = require_role(user=request.user, project=task.project, role=Role.REVIEWER)
    submissions = selectors.task_submissions(task=task)
    context = project_nav(task.project, role, "review") | {
        "task": task,
        "conversation": conversation(task.prompt.messages),
        "submissions": submissions,
        "flag_labels": FLAG_LABELS,
    }
    if task.kind == TaskKind.RANKING:
        context |= _ranking_review(task, submissions)
    else:
        context["columns"] = [_demonstration_column(task, s) for s in submissions]
    return render(request, "labeling/task_review.html", context)


def _tier_of(tiers: list[list[int]]) -> dict[int, int]:
    return {cid: n for n, tier in enumerate(tiers, start=1) for cid in tier}


def _ranking_review(task: Task, submissions: list[selectors.Submission]) -> dict[str, Any]:
    candidates = Candidate.objects.in_bulk(task.candidate_ids)
    ordered = [candidates[cid] for cid in task.candidate_ids if cid in candidates]
    columns = []
    for s in submissions:
        current_tiers, original_tiers = _tier_of(s.current.tiers), _tier_of(s.original.tiers)
        ratings = {r.candidate_id: r for r in s.current.ratings.all()}
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
            "html": render_markdown(c.text),
            "cells": [col["cells"][i] for col in columns],
        }
        for i, c in enumerate(ordered)
    ]
    return {"rows": rows, "columns": columns, "tier_numbers": list(range(1, len(ordered) + 1))}


def _demonstration_column(task: Task, submission: selectors.Submission) -> dict[str, Any]:
    start = len(task.prompt.messages)
    reply = submission.current.messages[start:]
    original = submission.original.messages[start:]
    return {
        "submission": submission,
        "reply": conversation(reply),
        "original": conversation(original) if submission.edited else [],
        "final_answer": reply[-1].get("content", "") if reply else "",
    }


@login_required
@require_POST
@domain_errors
def review_submit(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = (
        Assignment.objects.select_related("task__prompt", "task__project").filter(pk=assignment_id).first()
    )
    if assignment is None:
        raise NotFound("no such assignment")
    task = assignment.task
    require_role(user=request.user, project=task.project, role=Role.REVIEWER)
    back = reverse("labeling:task-review", args=[task.pk])
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(form))
        return redirect(back)
    verdict = form.cleaned_data["verdict"]
    edit: dict[str, Any] | None = None
    if verdict == "edit":
        edit = _review_edit(request, task, assignment)
        if edit is None:
            return redirect(back)
    try:
        services.review_create(
            assignment_id=assignment_id,
            reviewer=request.user,
            verdict=verdict,
            reason=form.cleaned_data["reason"],
            edit=edit,
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        messages.error(request, exc.detail)
        return redirect(back)
    done = {"accept": "Accepted", "reject": "Rejected; the task is open again", "edit": "Edit saved"}[verdict]
    messages.success(request, f"{done} ({assignment.labeler.username}).")
    return redirect(back)


def _review_edit(request: HttpRequest, task: Task, assignment: Assignment) -> dict[str, Any] | None:
    """The edited annotation from the form, or None (with a message) when it does not parse."""
    if task.kind == TaskKind.RANKING:
        candidates = Candidate.objects.in_bulk(task.candidate_ids)
        ordered = [candidates[cid] for cid in task.candidate_ids if cid in candidates]
        tiers = TierEditForm(request.POST, candidates=ordered, tiers=len(ordered))
        if not tiers.is_valid():
            messages.error(request, "Give every answer a tier to edit the ranking.")
            return None
        return {"tiers": tiers.tiers()}
    current = Demonstration.objects.filter(assignment=assignment, is_current=True).first()
    content = request.POST.get("content", "").strip()
    if current is None or not content:
        messages.error(request, "Write the edited answer.")
        return None
    reply = [dict(m) for m in current.messages[len(task.prompt.messages) :]]
    reply[-1]["content"] = content
    return {"messages": reply, "tools": current.tools}


# --- project set-up --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def project_new(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise NotAllowed("only site admins create projects")
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(created_by=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
        else:
            messages.success(request, f"Project {project.name} created. Write its guideline next.")
            return redirect("labeling:project-settings", project_id=project.pk)
    return render(request, "labeling/project_new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def project_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = member_project(request, project_id, Role.ADMIN)
    initial = {f: getattr(project, f) for f in ("description", "task_kinds", "k", "overlap", "lease_seconds")}
    form = ProjectSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.project_update(project=project, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
        else:
            messages.success(request, "Settings saved.")
            return redirect("labeling:project-settings", project_id=project.pk)
    context = project_nav(project, role, "settings") | {
        "form": form,
        "member_form": MemberForm(),
        "members": selectors.members_of(project=project),
    }
    return render(request, "labeling/project_settings.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
@domain_errors
def member_set(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = member_project(request, project_id, Role.ADMIN)
    form = MemberForm(request.POST)
    if form.is_valid():
        user = get_user_model().objects.filter(username=form.cleaned_data["username"]).first()
        if user is None:
            messages.error(request, f"No user named {form.cleaned_data['username']}.")
        else:
            services.membership_set(project=project, user=user, role=form.cleaned_data["role"])
            messages.success(request, f"{user.username} is now {form.cleaned_data['role']}.")
    else:
        messages.error(request, _form_error(form))
    return redirect("labeling:project-settings", project_id=project.pk)


@login_required
@require_POST
@domain_errors
def member_remove(request: HttpRequest, project_id: int, user_id: int) -> HttpResponse:
    project, _ = member_project(request, project_id, Role.ADMIN)
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is not None:
        services.membership_remove(project=project, user=user)
        messages.success(request, f"{user.username} left the project.")
    return redirect("labeling:project-settings", project_id=project.pk)


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def import_upload(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = member_project(request, project_id, Role.ADMIN)
    form = ImportForm(request.POST or None, request.FILES or None)
    context = project_nav(project, role, "import") | {"form": form, "result": None, "lines": [], "error": ""}
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            fmt = importing.detect_format(upload.name)
            if form.cleaned_data["what"] == "prompts":
                result = services.prompts_import(
                    project=project, stream=upload, fmt=fmt, task_kind=form.cleaned_data["task_kind"] or None
                )
            else:
                result = services.candidates_import(project=project, stream=upload, fmt=fmt)
        except services.ImportRejected as exc:
            context |= {"error": exc.detail, "lines": exc.extra["lines"], "total_errors": len(exc.errors)}
            status = 400
        except (DomainError, ValueError) as exc:
            context["error"] = getattr(exc, "detail", str(exc))
            status = 400
        else:
            context["result"] = result
    elif form.errors:
        status = 400
    return render(request, "labeling/import.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def corpus(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = member_project(request, project_id, Role.ADMIN)
    form = CorpusForm(request.POST or None, request.FILES or None)
    context = project_nav(project, role, "corpus") | {"form": form, "lines": [], "error": ""}
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            uploaded = services.corpus_upload(
                project=project,
                name=form.cleaned_data["name"],
                stream=form.cleaned_data["file"],
                uploaded_by=request.user,
            )
        except services.ImportRejected as exc:
            context |= {"error": exc.detail, "lines": exc.extra["lines"], "total_errors": len(exc.errors)}
            status = 400
        except DomainError as exc:
            context["error"] = exc.detail
            status = 400
        else:
            messages.success(request, f"Corpus {uploaded.name}: {uploaded.document_count} documents stored.")
            return redirect("labeling:corpus", project_id=project.pk)
    elif form.errors:
        status = 400
    query = request.GET.get("q", "").strip()[: search.MAX_QUERY_CHARS]
    results = search.search_documents(project_id=project.pk, query=query) if query else []
    context |= {
        "corpora": selectors.corpora_for(project=project),
        "query": query,
        "results": [r | {"headline": search.headline_html(r["headline"])} for r in results],
    }
    return render(request, "labeling/corpus.html", context, status=status)


@login_required
@require_POST
@domain_errors
def corpus_delete(request: HttpRequest, project_id: int, corpus_id: int) -> HttpResponse:
    project, _ = member_project(request, project_id, Role.ADMIN)
    found = SearchCorpus.objects.filter(project=project, pk=corpus_id).first()
    if found is None:
        raise NotFound("no such corpus")
    services.corpus_delete(corpus=found)
    messages.success(request, f"Corpus {found.name} deleted.")
    return redirect("labeling:corpus", project_id=project.pk)


# --- progress dashboard ----------------------------------------------------------------------------

_PALETTE = ["#4f6fb8", "#5aa08a", "#c48a3f", "#9a6bb5", "#c0605e", "#4f9fb8", "#8a9a4f", "#b86f9a"]


@login_required
@domain_errors
def dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = member_project(request, project_id, Role.ADMIN)
    days = min(90, max(7, _int(request.GET.get("days"), 14)))
    board = selectors.project_dashboard(project=project, days=days)
    totals = {k: sum(row[k] or 0 for row in board.by_kind) for k in ("total", "done", "left", "closed")}
    context = project_nav(project, role, "dashboard") | {
        "board": board,
        "days": days,
        "totals": totals,
        "kinds": [
            row | {"done_pct": 100 * row["done"] / row["total"] if row["total"] else 0}
            for row in board.by_kind
        ],
        "chart": _labels_per_day_chart(board),
        "timing": _timing_bars(board),
    }
    return render(request, "labeling/dashboard.html", context)


def _labels_per_day_chart(board: selectors.Dashboard) -> dict[str, Any]:
    """Geometry of a stacked bar chart (one bar per day, one colour per labeler), drawn as inline SVG."""
    width, height, left, bottom, top = 720, 220, 36, 24, 10
    colours = {s.username: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(board.labelers)}
    totals = [sum(s.per_day.get(d, 0) for s in board.labelers) for d in board.days]
    peak = max(totals + [1])
    slot = (width - left) / max(1, len(board.days))
    scale = (height - bottom - top) / peak
    bars = []
    for i, day in enumerate(board.days):
        y = height - bottom
        segments = []
        for s in board.labelers:
            n = s.per_day.get(day, 0)
            if n:
                h = n * scale
                y -= h
                segments.append(
                    {
                        "y": round(y, 1),
                        "h": round(h, 1),
                        "colour": colours[s.username],
                        "title": f"{s.username}: {n}",
                    }
                )
        bars.append(
            {
                "x": round(left + i * slot + slot * 0.15, 1),
                "w": round(slot * 0.7, 1),
                "segments": segments,
                "label": day.strftime("%d %b") if i % max(1, len(board.days) // 7) == 0 else "",
                "label_x": round(left + i * slot + slot / 2, 1),
                "total": totals[i],
                "day": day,
            }
        )
    ticks = sorted({0, peak, peak // 2})
    return {
        "width": width,
        "height": height,
        "baseline": height - bottom,
        "left": left,
        "bars": bars,
        "ticks": [{"value": t, "y": round(height - bottom - t * scale, 1)} for t in ticks],
        "legend": [{"name": name, "colour": colour} for name, colour in colours.items()],
    }


def _timing_bars(board: selectors.Dashboard) -> list[dict[str, Any]]:
    peak = max([s.median_seconds for s in board.labelers] + [1.0])
    return [
        {
            "stats": s,
            "pct": round(100 * s.median_seconds / peak, 1),
            "days_total": sum(s.per_day.values()),
            "hours": s.total_seconds / 3600,
        }
        for s in board.labelers
    ]
