"""The Quality tab's active selection page: the ranking queue's order and the reward model whose scores
order it (admins change, reviewers read), how much of the open queue is scored, its most uncertain tasks,
and a scoring job started by hand. It starts jobs, so it lives here; its template stays with the other
quality pages."""

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.forms import errors_on
from core.pages import flash_errors
from core.types import AuthedRequest
from labeling.access import has_role, project_for, project_nav
from labeling.conversation import prompt_text
from labeling.models import Project, QueueOrder, Role
from labeling.selectors.active import queue_scoring
from labeling.services.active import active_selection_set
from registry.models import ModelVersion
from registry.selectors import models_for
from trainer_bridge.jobs.lifecycle import JOB_ROLE
from trainer_bridge.models import JobType, ScoringJob
from trainer_bridge.services.scoring import queue_scoring_job_start


class ActiveSelectionForm(forms.Form):
    queue_order = forms.ChoiceField(choices=QueueOrder.choices, label="Ranking queue order")
    reward_model = forms.TypedChoiceField(
        coerce=int, choices=[], required=False, empty_value=None, label="Reward model that scores the queue"
    )

    def __init__(self, *args: Any, versions: list[ModelVersion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.versions = {v.pk: v for v in versions}
        field = cast(forms.TypedChoiceField, self.fields["reward_model"])
        field.choices = [("", "—"), *((v.pk, str(v)) for v in versions)]


def reward_models(project: Project) -> list[ModelVersion]:
    return [v for v in models_for(project_id=project.pk) if v.kind == ModelVersion.Kind.RM]


def _page_url(request: AuthedRequest, project_id: int) -> str:
    return reverse("jobs:active-selection", args=[project_id])


@login_required
@require_http_methods(["GET", "POST"])
def active_selection(request: AuthedRequest, project_id: int) -> HttpResponse:
    """GET: the settings and how far the scoring got; POST: save the settings (admins), and when the queue
    now follows a reward model, queue a scoring job with it."""
    role_needed = Role.ADMIN if request.method == "POST" else Role.REVIEWER
    project, role = project_for(request.user, project_id, role_needed)
    initial = {"queue_order": project.queue_order, "reward_model": project.queue_reward_model_id}
    posted = request.POST if request.method == "POST" else None
    form = ActiveSelectionForm(posted, initial=initial, versions=reward_models(project))
    if request.method == "POST" and form.is_valid():
        with errors_on(form):
            data = form.cleaned_data
            model = form.versions.get(data["reward_model"]) if data["reward_model"] else None
            changed = model is not None and model.pk != project.queue_reward_model_id
            project = active_selection_set(
                project=project, user=request.user, queue_order=data["queue_order"], reward_model=model
            )
            messages.success(request, "Queue order saved.")
            scoring = queue_scoring(project=project)
            if (
                project.queue_order == QueueOrder.UNCERTAINTY
                and scoring.open_tasks
                and (changed or scoring.scored_by_current < scoring.open_tasks)
            ):
                job = queue_scoring_job_start(project=project, user=request.user)
                messages.success(
                    request,
                    f"Scoring job #{job.pk} queued: {project.queue_reward_model} scores the open ranking "
                    "tasks.",
                )
            return redirect("jobs:active-selection", project_id=project.pk)
    scoring = queue_scoring(project=project)
    context = project_nav(project, role, "quality") | {
        "form": form,
        "is_admin": has_role(role, Role.ADMIN),
        "scoring": scoring,
        "most_uncertain": [(t, prompt_text(t.prompt.messages)) for t in scoring.most_uncertain],
        "jobs": ScoringJob.objects.filter(
            project=project, type=JobType.SCORING, purpose=ScoringJob.Purpose.QUEUE
        )
        .select_related("model_version")
        .order_by("-created_at")[:5],
    }
    return render(request, "curation/quality/active.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
@flash_errors(_page_url)
def queue_scoring_start(request: AuthedRequest, project_id: int) -> HttpResponse:
    """Score the open ranking tasks now with the queue's reward model (answers it scored before are kept)."""
    project, _ = project_for(request.user, project_id, JOB_ROLE)
    job = queue_scoring_job_start(project=project, user=request.user)
    messages.success(request, f"Scoring job #{job.pk} queued: {len(job.candidate_ids)} answers to score.")
    return redirect("jobs:job", kind=JobType.SCORING, job_id=job.pk)
