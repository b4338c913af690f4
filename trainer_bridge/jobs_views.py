"""Pages for models, GPU jobs and retrain policies: parse, call a service, render.

Reviewers and admins of a project see them; only admins start, cancel and schedule.
"""

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core import charts
from core.errors import DomainError, NotFound
from core.pages import flash_errors
from curation.selectors import snapshot_get, snapshots_for
from labeling.access import RANK, project_for, project_nav
from trainer_bridge.generation import WHICH, generation_job_start
from trainer_bridge.job_runs import JOB_ROLE, VIEW_ROLE, job_cancel
from trainer_bridge.job_selectors import (
    float_or_error,
    id_or_error,
    int_or_error,
    job_get,
    job_kind,
    job_payload,
    jobs_for,
    metric_points,
    model_get,
    policies_for,
    policy_get,
)
from trainer_bridge.models import GenerationJob, ModelVersion, TrainingJob
from trainer_bridge.registry import model_label_counts, model_lineage, model_training_rows, models_for
from trainer_bridge.retrain import (
    retrain_policy_check,
    retrain_policy_create,
    retrain_policy_delete,
    retrain_policy_update,
)
from trainer_bridge.training import training_job_start

TRAINING_FIELDS = ("max_steps", "epochs", "lr", "batch_size", "groups_per_batch", "eval_every", "seed")


def _jobs_url(request: HttpRequest, project_id: int, **kwargs: Any) -> str:
    return reverse("jobs:jobs", args=[project_id])


def _retrain_url(request: HttpRequest, project_id: int, **kwargs: Any) -> str:
    return reverse("jobs:retrain", args=[project_id])


def _context(project: Any, role: str, tab: str) -> dict[str, Any]:
    return project_nav(project, role, "") | {"tab": tab, "is_admin": RANK[role] >= RANK[JOB_ROLE]}


def _lineage_text(model: ModelVersion) -> str:
    return " ← ".join(m.name for m in model_lineage(model=model))


# --- models --------------------------------------------------------------------------------------


@login_required
@require_GET
def models_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, VIEW_ROLE)
    models = list(models_for(project=project))
    context = _context(project, role, "models") | {
        "models": [(m, _lineage_text(m)) for m in models],
    }
    return render(request, "trainer_bridge/jobs/models.html", context)


@login_required
@require_GET
def model_detail(request: HttpRequest, project_id: int, model_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, VIEW_ROLE)
    model = model_get(model_id=model_id, user=request.user, project=project)
    counts = model_label_counts(model=model)
    context = _context(project, role, "models") | {
        "model": model,
        "lineage": model_lineage(model=model),
        "label_counts": counts,
        "labels_total": sum(sum(c["by_kind"].values()) for c in counts),
        "children": model.children.order_by("-created_at"),
        "training_job": TrainingJob.objects.filter(output_model=model).first(),
    }
    return render(request, "trainer_bridge/jobs/model_detail.html", context)


@login_required
@require_GET
def model_labels(request: HttpRequest, project_id: int, model_id: int) -> HttpResponse:
    """Every label that trained the model or its ancestors, as frozen in their snapshots."""
    project, role = project_for(request.user, project_id, VIEW_ROLE)
    model = model_get(model_id=model_id, user=request.user, project=project)
    page = Paginator(model_training_rows(model=model).select_related("snapshot"), 50).get_page(
        request.GET.get("page")
    )
    rows = []
    for row in page:
        data = json.loads(row.data)
        prompt = data.get("prompt") or []
        rows.append(
            {
                "row": row,
                "labeler": data.get("labeler"),
                "task_id": data.get("task_id"),
                "assignment_id": data.get("assignment_id"),
                "guideline_version": data.get("guideline_version"),
                "question": (prompt[-1].get("content") if prompt else "") or "",
            }
        )
    context = _context(project, role, "models") | {"model": model, "page": page, "rows": rows}
    return render(request, "trainer_bridge/jobs/model_labels.html", context)


# --- jobs ----------------------------------------------------------------------------------------


@login_required
@require_GET
def jobs_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, VIEW_ROLE)
    models = list(models_for(project=project))
    context = _context(project, role, "jobs") | {
        "jobs": [(job, job_kind(job)) for job in jobs_for(project=project)],
        "generators": [m for m in models if m.kind != ModelVersion.Kind.RM],
        "bases": models,
        "snapshots": snapshots_for(project=project),
        "which": WHICH,
    }
    return render(request, "trainer_bridge/jobs/jobs.html", context)


@login_required
@require_POST
@flash_errors(_jobs_url)
def generation_start(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, JOB_ROLE)
    post = request.POST
    model = model_get(
        model_id=id_or_error(post.get("model_version"), "model_version"), user=request.user, project=project
    )
    job = generation_job_start(
        project=project,
        model_version=model,
        user=request.user,
        k=int_or_error(post.get("k"), "k"),
        which=post.get("which") or "waiting",
        source=post.get("source", "").strip(),
        limit=int_or_error(post.get("limit"), "limit"),
        max_new_tokens=int_or_error(post.get("max_new_tokens"), "max_new_tokens", default=256),
        temperature=float_or_error(post.get("temperature"), "temperature", default=1.0),
        top_p=float_or_error(post.get("top_p"), "top_p", default=1.0),
        seed=int_or_error(post.get("seed"), "seed", default=0),
        batch_size=int_or_error(post.get("batch_size"), "batch_size", default=8),
    )
    messages.success(request, f"Generation job #{job.pk} queued: {len(job.prompt_ids)} prompts × {job.k}.")
    return redirect("jobs:job", kind="generation", job_id=job.pk)


@login_required
@require_POST
@flash_errors(_jobs_url)
def training_start(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, JOB_ROLE)
    post = request.POST
    snapshot = snapshot_get(snapshot_id=id_or_error(post.get("snapshot"), "snapshot"))
    if snapshot.project_id != project.pk:
        raise NotFound("no such snapshot in this project")
    base = model_get(
        model_id=id_or_error(post.get("base_model"), "base_model"), user=request.user, project=project
    )
    kind = post.get("kind", "")
    config = {name: post.get(name) for name in TRAINING_FIELDS}
    if kind == TrainingJob.Kind.SFT:
        config.pop("groups_per_batch")
    else:
        config.pop("batch_size")
    job = training_job_start(
        snapshot=snapshot,
        base_model=base,
        kind=kind,
        user=request.user,
        config=config,
        output_name=post.get("output_name", ""),
    )
    messages.success(request, f"Training job #{job.pk} queued: {kind} on {snapshot.name}.")
    return redirect("jobs:job", kind="training", job_id=job.pk)


def _job_context(job: GenerationJob | TrainingJob) -> dict[str, Any]:
    context: dict[str, Any] = {"job": job, "kind": job_kind(job), "payload": job_payload(job, log_tail=200)}
    if isinstance(job, TrainingJob):
        points = metric_points(job)
        context["loss_chart"] = charts.line_chart(
            charts.metric_series(points, ["train_loss", "val_loss"]), title="Loss", y_label="loss"
        )
        if job.kind == TrainingJob.Kind.RM:
            context["accuracy_chart"] = charts.line_chart(
                charts.metric_series(points, ["train_pair_accuracy", "val_pair_accuracy"]),
                title="Pair accuracy",
                y_label="accuracy",
                y_range=(0.0, 1.0),
            )
        context["metrics_table"] = points[-10:]
    return context


@login_required
@require_GET
def job_detail(request: HttpRequest, kind: str, job_id: int) -> HttpResponse:
    job = job_get(kind=kind, job_id=job_id, user=request.user)
    _, role = project_for(request.user, job.project_id, VIEW_ROLE)
    context = _context(job.project, role, "jobs") | _job_context(job)
    return render(request, "trainer_bridge/jobs/job_detail.html", context)


@login_required
@require_GET
def job_live(request: HttpRequest, kind: str, job_id: int) -> HttpResponse:
    """The live part of a job page (status, progress, curves, log), polled while the job runs."""
    job = job_get(kind=kind, job_id=job_id, user=request.user)
    if request.GET.get("format") == "json":
        return JsonResponse(job_payload(job))
    _, role = project_for(request.user, job.project_id, VIEW_ROLE)
    context = _context(job.project, role, "jobs") | _job_context(job)
    return render(request, "trainer_bridge/jobs/_job_live.html", context)


@login_required
@require_POST
@flash_errors(lambda request, kind, job_id: reverse("jobs:job", args=[kind, job_id]))
def job_cancel_view(request: HttpRequest, kind: str, job_id: int) -> HttpResponse:
    job = job_get(kind=kind, job_id=job_id, user=request.user, role=JOB_ROLE)
    job_cancel(job=job, user=request.user)
    messages.info(request, f"Cancel asked for job #{job.pk}.")
    return redirect("jobs:job", kind=kind, job_id=job.pk)


# --- retrain policies ----------------------------------------------------------------------------


@login_required
@require_GET
def retrain_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, VIEW_ROLE)
    policies = [
        (policy, policy.runs.select_related("snapshot", "training_job").order_by("-checked_at", "-id")[:20])
        for policy in policies_for(project=project)
    ]
    context = _context(project, role, "retrain") | {
        "policies": policies,
        "bases": [m for m in models_for(project=project) if m.kind != ModelVersion.Kind.RM],
        "kinds": TrainingJob.Kind.values,
    }
    return render(request, "trainer_bridge/jobs/retrain.html", context)


@login_required
@require_POST
@flash_errors(_retrain_url)
def retrain_create(request: HttpRequest, project_id: int) -> HttpResponse:
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


def _policy_url(request: HttpRequest, policy_id: int) -> str:
    policy = policy_get(policy_id=policy_id, user=request.user)
    return reverse("jobs:retrain", args=[policy.project_id])


@login_required
@require_POST
@flash_errors(_policy_url)
def retrain_action(request: HttpRequest, policy_id: int) -> HttpResponse:
    """Switch a policy on or off, check it now, or delete it."""
    policy = policy_get(policy_id=policy_id, user=request.user, role=JOB_ROLE)
    action = request.POST.get("action")
    if action in ("enable", "disable"):
        retrain_policy_update(policy=policy, user=request.user, enabled=action == "enable")
        messages.info(request, f"Policy {policy.name} switched {'on' if action == 'enable' else 'off'}.")
    elif action == "check":
        run = retrain_policy_check(policy_id=policy.pk)
        messages.info(request, f"Checked {policy.name}: {run.outcome} — {run.reason}")
    elif action == "delete":
        retrain_policy_delete(policy=policy, user=request.user)
        messages.info(request, f"Policy {policy.name} deleted.")
    else:
        raise DomainError("action is enable, disable, check or delete", field="action")
    return redirect("jobs:retrain", project_id=policy.project_id)
