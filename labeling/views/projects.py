"""Admin pages that set a project up: create it, its settings, its members."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import NotAllowed
from core.forms import errors_on, form_errors_text
from core.types import AuthedRequest
from labeling.access import project_for, project_nav
from labeling.forms import (
    ChatSettingsForm,
    MemberForm,
    ProjectForm,
    ProjectSettingsForm,
)
from labeling.models import Role, TaskKind
from labeling.selectors.chat import chat_settings_of
from labeling.selectors.projects import members_of
from labeling.services.chat import chat_settings_set
from labeling.services.projects import membership_remove, membership_set, project_create, project_update
from registry.models import ModelVersion
from registry.selectors import models_for


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request: AuthedRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise NotAllowed("only site admins create projects")
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            project = project_create(created_by=request.user, **form.cleaned_data)
            messages.success(request, f"Project {project.name} created. Write its guideline next.")
            return redirect("labeling:project-settings", project_id=project.pk)
    return render(request, "labeling/project_new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.ADMIN)
    fields = ("description", "task_kinds", "k", "overlap", "lease_seconds", "allow_self_review")
    initial = {f: getattr(project, f) for f in fields}
    form = ProjectSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            project_update(project=project, **form.cleaned_data)
            messages.success(request, "Settings saved.")
            return redirect("labeling:project-settings", project_id=project.pk)
    context = project_nav(project, role, "settings") | {
        "form": form,
        "member_form": MemberForm(),
        "members": members_of(project=project),
        "chat_form": _chat_form(project) if TaskKind.CHAT in project.task_kinds else None,
    }
    return render(request, "labeling/project_settings.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def member_set(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, Role.ADMIN)
    form = MemberForm(request.POST)
    if form.is_valid():
        user = get_user_model().objects.filter(username=form.cleaned_data["username"]).first()
        if user is None:
            messages.error(request, f"No user named {form.cleaned_data['username']}.")
        else:
            membership_set(project=project, user=user, role=form.cleaned_data["role"])
            messages.success(request, f"{user.username} is now {form.cleaned_data['role']}.")
    else:
        messages.error(request, form_errors_text(form))
    return redirect("labeling:project-settings", project_id=project.pk)


@login_required
@require_POST
def member_remove(request: AuthedRequest, project_id: int, user_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, Role.ADMIN)
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is not None:
        released = membership_remove(project=project, user=user)
        freed = f"; {released} leased task(s) went back to the pool" if released else ""
        messages.success(request, f"{user.username} left the project{freed}.")
    return redirect("labeling:project-settings", project_id=project.pk)


def _chat_form(project: Any, data: Any = None) -> ChatSettingsForm:
    current = chat_settings_of(project)
    fields = ("model_version", "k", "max_new_tokens", "temperature", "seconds_limit", "calls_per_minute")
    writers = models_for(project_id=project.pk).exclude(kind=ModelVersion.Kind.RM)
    return ChatSettingsForm(
        data, prefix="chat", models=writers, initial={f: getattr(current, f) for f in fields}
    )


@login_required
@require_POST
def chat_settings(request: AuthedRequest, project_id: int) -> HttpResponse:
    """The model version the project's chats talk to, K and the bounds on each call (admins)."""
    project, _ = project_for(request.user, project_id, Role.ADMIN)
    form = _chat_form(project, request.POST)
    if form.is_valid():
        chat_settings_set(project=project, user=request.user, **form.cleaned_data)
        messages.success(request, "Chat settings saved.")
    else:
        messages.error(request, form_errors_text(form))
    return redirect("labeling:project-settings", project_id=project.pk)
