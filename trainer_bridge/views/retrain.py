"""Retrain policy pages: schedule, switch, check now, delete."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError, NotFound
from core.forms import float_or_error, id_or_error, int_or_error
from core.pages import flash_errors
from core.types import AuthedRequest
from labeling.access import project_for
from registry.models import ModelVersion
from registry.selectors import models_for
from trainer_bridge.jobs.lifecycle import JOB_ROLE, VIEW_ROLE
from trainer_bridge.models import TrainingJob
from trainer_bridge.selectors import model_get, policies_for, policy_get
from trainer_bridge.services.retrain import (
    retrain_policy_check,
    retrain_policy_create,
    retrain_policy_delete,
    retrain_policy_update,
)
from trainer_bridge.views.nav import tab_context


def _retrain_url(request: AuthedRequest, project_id: int, **kwargs: Any) -> str:
    return reverse("jobs:retrain", args=[project_id])


@login_required
@require_GET
def retrain_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, VIEW_ROLE)
    policies = [
        (policy, policy.runs.select_related("snapshot", "training_job").order_by("-checked_at", "-id")[:20])
        for policy in policies_for(project=project)
    ]
    context = tab_context(project, role, "retrain") | {
        "policies": policies,
        "bases": [m for m in models_for(project_id=project.pk) if m.kind != ModelVersion.Kind.RM],
        "kinds": TrainingJob.Kind.values,
    }
    return render(request, "trainer_bridge/jobs/retrain.html", context)


@login_required
@require_POST
@flash_errors(_retrain_url)
def retrain_create(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, JOB_ROLE)
    post = request.POST
    base = model_get(
        model_id=id_or_error(post.get("base_model"), "base_model"), user=request.user, project=project
    )
    schedule = post.get("schedule", "interval")
    policy = retrain_policy_create(
        project=project,
        user=request.user,
        name=post.get("name", ""),
        kind=post.get("kind", ""),
        base_model=base,
        min_new_annotations=int_or_error(post.get("min_new_annotations"), "min_new_annotations", default=0),
        interval_minutes=int_or_error(post.get("interval_minutes"), "interval_minutes")
        if schedule == "interval"
        else None,
        crontab=post.get("crontab", "") if schedule == "crontab" else "",
        training_config_values={"max_steps": post.get("max_steps") or None},
        validation_fraction=float_or_error(
            post.get("validation_fraction"), "validation_fraction", default=0.1
        ),
    )
    messages.success(request, f"Retrain policy {policy.name} saved ({policy.schedule_text}).")
    return redirect("jobs:retrain", project_id=project.pk)


def _policy_url(request: AuthedRequest, policy_id: int) -> str:
    policy = policy_get(policy_id=policy_id, user=request.user)
    return reverse("jobs:retrain", args=[policy.project_id])


@login_required
@require_POST
@flash_errors(_policy_url)
def retrain_action(request: AuthedRequest, policy_id: int) -> HttpResponse:
    """Switch a policy on or off, check it now, or delete it."""
    policy = policy_get(policy_id=policy_id, user=request.user, role=JOB_ROLE)
    action = request.POST.get("action")
    if action in ("enable", "disable"):
        retrain_policy_update(policy=policy, user=request.user, enabled=action == "enable")
        messages.info(request, f"Policy {policy.name} switched {'on' if action == 'enable' else 'off'}.")
    elif action == "check":
        run = retrain_policy_check(policy_id=policy.pk)
        if run is None:
            raise NotFound("no such retrain policy")
        messages.info(request, f"Checked {policy.name}: {run.outcome} — {run.reason}")
    elif action == "delete":
        retrain_policy_delete(policy=policy, user=request.user)
        messages.info(request, f"Policy {policy.name} deleted.")
    else:
        raise DomainError("action is enable, disable, check or delete", field="action")
    return redirect("jobs:retrain", project_id=policy.project_id)
