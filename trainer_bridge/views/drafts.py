"""The Quality tab's model drafts page: how labelers treat the drafts (reviewers read), the project's switch
and model version, and a drafting job started by hand (admins). It starts jobs, so it lives here; its
template stays with the other quality pages."""

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.charts import bar_chart, histogram
from core.forms import errors_on
from core.pages import flash_errors
from core.types import AuthedRequest
from curation.quality.drafts import draft_edit_report
from labeling.access import has_role, project_for, project_nav
from labeling.models import Project, Role
from labeling.selectors.model_drafts import drafted_open_tasks, reply_draft_settings_get
from labeling.services.model_drafts import MAX_DRAFT_TOKENS, reply_draft_settings_set
from registry.models import ModelVersion
from registry.selectors import models_for
from trainer_bridge.jobs.lifecycle import JOB_ROLE
from trainer_bridge.models import DraftingJob, JobType
from trainer_bridge.services.drafting import drafting_job_start


class DraftSettingsForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Start demonstration and refusal replies from a draft")
    model_version = forms.TypedChoiceField(coerce=int, choices=[], required=False, empty_value=None)
    max_new_tokens = forms.IntegerField(min_value=1, max_value=MAX_DRAFT_TOKENS, initial=512)
    temperature = forms.FloatField(min_value=0.0, max_value=2.0, initial=0.7)

    def __init__(self, *args: Any, versions: list[ModelVersion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.versions = {v.pk: v for v in versions}
        field = cast(forms.TypedChoiceField, self.fields["model_version"])
        field.choices = [("", "—"), *((v.pk, str(v)) for v in versions)]


def _page_url(request: AuthedRequest, project_id: int) -> str:
    return reverse("jobs:model-drafts", args=[project_id])


def _writers(project: Project) -> list[ModelVersion]:
    return [v for v in models_for(project_id=project.pk) if v.kind != ModelVersion.Kind.RM]


@login_required
@require_http_methods(["GET", "POST"])
def model_drafts(request: AuthedRequest, project_id: int) -> HttpResponse:
    """GET: the figures and the settings; POST: save the settings (admins)."""
    role_needed = Role.ADMIN if request.method == "POST" else Role.REVIEWER
    project, role = project_for(request.user, project_id, role_needed)
    settings = reply_draft_settings_get(project=project)
    initial = {
        "enabled": settings.enabled,
        "model_version": settings.model_version_id,
        "max_new_tokens": settings.max_new_tokens,
        "temperature": settings.temperature,
    }
    posted = request.POST if request.method == "POST" else None
    form = DraftSettingsForm(posted, initial=initial, versions=_writers(project))
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            data = form.cleaned_data
            reply_draft_settings_set(
                project=project,
                user=request.user,
                enabled=data["enabled"],
                model_version=form.versions.get(data["model_version"]) if data["model_version"] else None,
                max_new_tokens=data["max_new_tokens"],
                temperature=data["temperature"],
            )
            messages.success(request, "Model draft settings saved.")
            return redirect("jobs:model-drafts", project_id=project.pk)
    report = draft_edit_report(project=project)
    drafted = (
        drafted_open_tasks(project=project, model_version_id=settings.model_version_id)
        if settings.model_version_id
        else None
    )
    context = project_nav(project, role, "quality") | {
        "settings": settings,
        "form": form,
        "settings_fields": [form["model_version"], form["max_new_tokens"], form["temperature"]],
        "is_admin": has_role(role, Role.ADMIN),
        "report": report,
        "drafted": drafted,
        "jobs": DraftingJob.objects.filter(project=project, type=JobType.DRAFTING)
        .select_related("model_version")
        .order_by("-created_at")[:5],
        "unchanged_chart": bar_chart(
            [(row.name, row.unchanged_share) for row in report.by_labeler],
            title="Drafts submitted unchanged, per labeler",
        ),
        "shares_chart": histogram(report.word_shares, title="Replies by share of the draft's words changed"),
    }
    return render(request, "curation/quality/drafts.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
@flash_errors(_page_url)
def drafting_start(request: AuthedRequest, project_id: int) -> HttpResponse:
    """Draft now every open writing task that has no draft from the chosen model version yet."""
    project, _ = project_for(request.user, project_id, JOB_ROLE)
    job = drafting_job_start(project=project, user=request.user)
    messages.success(request, f"Drafting job #{job.pk} queued: {len(job.prompt_ids)} prompts to draft.")
    return redirect("jobs:job", kind=JobType.DRAFTING, job_id=job.pk)
