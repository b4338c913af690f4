"""Guideline pages: read the current version and its history, author and publish, acknowledge."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError, NotFound
from core.forms import errors_on, int_or_error
from core.markdown import render_markdown
from core.types import AuthedRequest
from guidelines.diff import normalized, text_diff
from guidelines.models import GuidelineVersion
from guidelines.selectors import guideline_version_diff, guideline_version_pending_for
from guidelines.services import (
    draft_fingerprint,
    guideline_acknowledge,
    guideline_draft_save,
    guideline_publish,
    guideline_publish_check,
)
from labeling.access import project_for, project_nav
from labeling.models import Membership, Project, Role

MAX_BODY_CHARS = 200_000


class GuidelineForm(forms.Form):
    body = forms.CharField(required=False, strip=False, max_length=MAX_BODY_CHARS, widget=forms.Textarea)
    change_note = forms.CharField(required=False, max_length=500)


def _versions(project_guideline_id: int) -> list[GuidelineVersion]:
    return list(
        GuidelineVersion.objects.filter(guideline_id=project_guideline_id)
        .select_related("author")
        .order_by("-number")
    )


@login_required
def guideline_page(request: AuthedRequest, project_id: int, number: int | None = None) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.LABELER)
    versions = _versions(project.guideline_id)
    shown = (
        versions[0]
        if versions and number is None
        else next((v for v in versions if v.number == number), None)
    )
    if number is not None and shown is None:
        raise NotFound(f"the guideline has no version {number}")
    pending = guideline_version_pending_for(user=request.user, guideline=project.guideline)
    context = project_nav(project, role, "guideline") | {
        "guideline": project.guideline,
        "versions": versions,
        "shown": shown,
        "html": render_markdown(shown.body) if shown else "",
        "pending": pending,
    }
    return render(request, "guidelines/guideline.html", context)


@login_required
def guideline_diff(request: AuthedRequest, project_id: int, old: int, new: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.LABELER)
    versions = {v.number: v for v in _versions(project.guideline_id)}
    if new not in versions or (old and old not in versions):
        raise NotFound("no such guideline version")
    context = project_nav(project, role, "guideline") | {
        "old": versions.get(old),
        "new": versions[new],
        "passages": guideline_version_diff(old=versions.get(old), new=versions[new]),
        "versions": sorted(versions.values(), key=lambda v: -v.number),
    }
    return render(request, "guidelines/diff.html", context)


@login_required
@require_GET
def guideline_diff_pick(request: AuthedRequest, project_id: int) -> HttpResponse:
    """The "From ... to ..." picker of the diff page: a plain GET form, sent on to the diff's own URL."""
    project_for(request.user, project_id, Role.LABELER)
    old = max(0, int_or_error(request.GET.get("old"), "old", default=0))
    new = max(0, int_or_error(request.GET.get("new"), "new", default=0))
    return redirect("guidelines:diff", project_id=project_id, old=old, new=new)


@login_required
@require_http_methods(["GET", "POST"])
def guideline_edit(request: AuthedRequest, project_id: int) -> HttpResponse:
    """Write the draft with a live preview; save it, or publish it as the next version after a
    confirmation that shows what changed and says who must acknowledge it."""
    project, role = project_for(request.user, project_id, Role.ADMIN)
    guideline = project.guideline
    form = GuidelineForm(request.POST or None, initial={"body": guideline.draft_body})
    status = 200
    action = request.POST.get("action")
    if request.method == "POST" and form.is_valid():
        body, note = form.cleaned_data["body"], form.cleaned_data["change_note"].strip()
        if action == "confirm":
            with errors_on(form):
                version = guideline_publish(
                    guideline=guideline,
                    author=request.user,
                    change_note=note,
                    draft=request.POST.get("draft", ""),
                )
                messages.success(
                    request, f"Version {version.number} published; labelers will be asked to read it."
                )
                return redirect("guidelines:page", project_id=project.pk)
        else:
            guideline = guideline_draft_save(guideline=guideline, body=body)
            if action != "publish":
                messages.success(request, "Draft saved.")
                return redirect("guidelines:edit", project_id=project.pk)
            with errors_on(form):
                guideline_publish_check(body=guideline.draft_body, change_note=note)
                return _publish_confirmation(request, project, role, note)
        status = 400
    elif form.errors:
        status = 400
    body = form.data.get("body", guideline.draft_body) if form.is_bound else guideline.draft_body
    versions = _versions(guideline.pk)
    context = project_nav(project, role, "guideline") | {
        "form": form,
        "body": body,
        "preview": render_markdown(body),
        "versions": versions,
        "unchanged": bool(versions) and versions[0].body == normalized(body),
        "change_note": form.data.get("change_note", "") if form.is_bound else "",
    }
    return render(request, "guidelines/edit.html", context, status=status)


def _publish_confirmation(
    request: AuthedRequest, project: Project, role: str, change_note: str
) -> HttpResponse:
    """Before a version is published: what changed since the current one, and who must read it."""
    guideline = project.guideline
    versions = _versions(guideline.pk)
    current = versions[0] if versions else None
    context = project_nav(project, role, "guideline") | {
        "number": (current.number if current else 0) + 1,
        "current": current,
        "change_note": change_note,
        "draft": draft_fingerprint(guideline.draft_body),
        "passages": text_diff(current.body if current else "", guideline.draft_body),
        "readers": Membership.objects.filter(project=project).exclude(user=request.user).count(),
    }
    return render(request, "guidelines/confirm.html", context)


@login_required
@require_POST
def guideline_preview(request: AuthedRequest, project_id: int) -> HttpResponse:
    project_for(request.user, project_id, Role.ADMIN)
    return HttpResponse(render_markdown(request.POST.get("body", "")[:MAX_BODY_CHARS]))


@login_required
@require_POST
def guideline_acknowledge_view(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, Role.LABELER)
    number = int_or_error(request.POST.get("version"), "version")
    if number is None:
        raise DomainError("say which guideline version you read", field="version")
    version = GuidelineVersion.objects.filter(guideline_id=project.guideline_id, number=number).first()
    if version is None:
        raise NotFound("no such guideline version")
    guideline_acknowledge(user=request.user, version=version)
    messages.success(
        request, f"Thanks: you acknowledged version {version.number} of the {project.name} guideline."
    )
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return HttpResponseRedirect(target)
    return redirect("labeling:home")
