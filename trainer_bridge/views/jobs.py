"""Job pages: every job of a project, start generation and training, a job's live status, curves and log,
cancel and retry."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core import charts
from core.errors import NotFound
from core.forms import float_or_error, id_or_error, int_or_error
from core.pages import flash_errors
from core.types import AuthedRequest
from curation.models import DatasetSnapshot
from curation.selectors import snapshot_get, snapshot_rows_by_split, snapshots_for
from curation.splits import TRAIN, VALIDATION
from labeling.access import has_role, project_for
from registry.models import ModelVersion
from registry.selectors import models_for
from trainer_bridge.jobs.kinds import KINDS
from trainer_bridge.jobs.lifecycle import JOB_ROLE, VIEW_ROLE, job_cancel, job_retry
from trainer_bridge.ml.config import DPO_LOSSES
from trainer_bridge.models import GRPOJob, Job, TrainingJob
from trainer_bridge.selectors import (
    job_get,
    job_payload,
    jobs_for,
    metric_points,
    model_get,
    training_job_validation_rows,
    training_row_kinds,
)
from trainer_bridge.services.best_of_n import best_of_n_start
from trainer_bridge.services.generation import WHICH, generation_job_start
from trainer_bridge.services.training import UNITS, training_job_start
from trainer_bridge.views.nav import tab_context

TRAINING_FIELDS = ("max_steps", "epochs", "lr", "batch_size", "groups_per_batch", "eval_every", "seed")
DPO_FIELDS = ("loss_type", "beta", "lora_r")


def _jobs_url(request: AuthedRequest, project_id: int, **kwargs: Any) -> str:
    return reverse("jobs:jobs", args=[project_id])


@login_required
@require_GET
def jobs_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, VIEW_ROLE)
    models = list(models_for(project_id=project.pk))
    snapshots = list(snapshots_for(project=project))
    context = tab_context(project, role, "jobs") | {
        "jobs": [(job, KINDS[job.type].label) for job in jobs_for(project=project)],
        "generators": [m for m in models if m.kind != ModelVersion.Kind.RM],
        "reward_models": [m for m in models if m.kind == ModelVersion.Kind.RM],
        "bases": models,
        "snapshots": snapshots,
        "no_validation": _snapshots_without_validation(snapshots),
        "which": WHICH,
        "dpo_losses": DPO_LOSSES,
    }
    return render(request, "trainer_bridge/jobs/jobs.html", context)


def _snapshots_without_validation(snapshots: list[DatasetSnapshot]) -> list[str]:
    """A warning per snapshot that an SFT or reward-model job could train on but not validate on."""
    warnings = []
    for snapshot in snapshots:
        missing = []
        for kind, unit in ((TrainingJob.Kind.SFT, "conversations"), (TrainingJob.Kind.RM, "rankings")):
            rows = snapshot_rows_by_split(snapshot=snapshot, kinds=training_row_kinds(kind))
            if rows.get(TRAIN) and not rows.get(VALIDATION):
                missing.append(unit)
        if missing:
            warnings.append(
                f"Snapshot {snapshot.name} has no validation {' and no validation '.join(missing)}: "
                "a job on it reports no validation loss."
            )
    return warnings


@login_required
@require_POST
@flash_errors(_jobs_url)
def generation_start(request: AuthedRequest, project_id: int) -> HttpResponse:
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
        engine=post.get("engine") or "auto",
    )
    messages.success(request, f"Generation job #{job.pk} queued: {len(job.prompt_ids)} prompts × {job.k}.")
    return redirect("jobs:job", kind="generation", job_id=job.pk)


@login_required
@require_POST
@flash_errors(_jobs_url)
def training_start(request: AuthedRequest, project_id: int) -> HttpResponse:
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
    config.pop("batch_size" if kind == TrainingJob.Kind.RM else "groups_per_batch")
    data_options = {}
    if kind == TrainingJob.Kind.DPO:
        config |= {name: post.get(name) for name in DPO_FIELDS}
    if kind in (TrainingJob.Kind.RM, TrainingJob.Kind.DPO):
        data_options["by"] = post.get("by") or "labeler"
    job = training_job_start(
        snapshot=snapshot,
        base_model=base,
        kind=kind,
        user=request.user,
        config=config,
        data_options=data_options,
        output_name=post.get("output_name", ""),
    )
    messages.success(request, f"Training job #{job.pk} queued: {kind} on {snapshot.name}.")
    return redirect("jobs:job", kind="training", job_id=job.pk)


@login_required
@require_POST
@flash_errors(_jobs_url)
def best_of_n_start_view(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, JOB_ROLE)
    post = request.POST
    model = model_get(
        model_id=id_or_error(post.get("model_version"), "model_version"), user=request.user, project=project
    )
    reward_model = model_get(
        model_id=id_or_error(post.get("reward_model"), "reward_model"), user=request.user, project=project
    )
    job = best_of_n_start(
        project=project,
        model_version=model,
        reward_model=reward_model,
        user=request.user,
        n=int_or_error(post.get("n"), "n", default=4),
        which=post.get("which") or "all",
        limit=int_or_error(post.get("limit"), "limit"),
        snapshot_name=post.get("snapshot_name", ""),
        max_new_tokens=int_or_error(post.get("max_new_tokens"), "max_new_tokens", default=256),
        temperature=float_or_error(post.get("temperature"), "temperature", default=1.0),
        seed=int_or_error(post.get("seed"), "seed", default=0),
        engine=post.get("engine") or "auto",
    )
    messages.success(
        request, f"Best-of-N job #{job.pk} queued: {len(job.prompt_ids)} prompts × {job.n} answers."
    )
    return redirect("jobs:job", kind="best_of_n", job_id=job.pk)


def _job_context(job: Job, role: str) -> dict[str, Any]:
    context: dict[str, Any] = {
        "job": job,
        "kind": job.type,
        "label": KINDS[job.type].label,
        "payload": job_payload(job, log_tail=200),
        "can_manage": has_role(role, KINDS[job.type].manage_role),
    }
    if isinstance(job, TrainingJob):
        if training_job_validation_rows(job) == 0:
            unit = UNITS[job.kind]
            context["no_validation"] = (
                f"Snapshot {job.snapshot.name} has no validation {unit}: this job reports no validation "
                "loss, so overfitting cannot be seen. Freeze a snapshot with a validation share above 0."
            )
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
        if job.kind == TrainingJob.Kind.DPO:
            context["accuracy_chart"] = charts.line_chart(
                charts.metric_series(points, ["reward_margin", "val_reward_margin"]),
                title="Reward margin (chosen minus rejected)",
                y_label="margin",
            )
            context["logp_chart"] = charts.line_chart(
                charts.metric_series(points, ["logp_chosen", "logp_rejected"]),
                title="Log-probability of the chosen and rejected answers",
                y_label="log p",
            )
        context["metrics_table"] = points[-10:]
    elif isinstance(job, GRPOJob):
        context |= grpo_charts(metric_points(job))
    return context


def grpo_charts(points: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """A GRPO job's curves: reward (and the reward model's score beside the verifier's), held-out pass
    rate, KL to the reference, response length."""
    rewards = ["mean_reward", "verifier_reward", "reward_model_score", "reward_gap"]
    if not any("reward_model_score" in values for _, values in points):
        rewards = ["mean_reward"]
    return {
        "loss_chart": charts.line_chart(
            charts.metric_series(points, rewards), title="Reward", y_label="reward"
        ),
        "accuracy_chart": charts.line_chart(
            charts.metric_series(points, ["heldout_pass_rate"]),
            title="Held-out pass rate",
            y_label="pass@1",
            y_range=(0.0, 1.0),
        ),
        "extra_charts": [
            charts.line_chart(
                charts.metric_series(points, ["kl"]), title="KL to the reference", y_label="KL"
            ),
            charts.line_chart(
                charts.metric_series(points, ["response_length"]), title="Response length", y_label="tokens"
            ),
        ],
        "metrics_table": points[-10:],
    }


@login_required
@require_GET
def job_detail(request: AuthedRequest, kind: str, job_id: int) -> HttpResponse:
    job = job_get(type=kind, job_id=job_id, user=request.user)
    _, role = project_for(request.user, job.project_id, VIEW_ROLE)
    context = tab_context(job.project, role, "jobs") | _job_context(job, role)
    return render(request, "trainer_bridge/jobs/job_detail.html", context)


@login_required
@require_GET
def job_live(request: AuthedRequest, kind: str, job_id: int) -> HttpResponse:
    """The live part of a job page (status, progress, curves, log), polled while the job runs."""
    job = job_get(type=kind, job_id=job_id, user=request.user)
    if request.GET.get("format") == "json":
        return JsonResponse(job_payload(job))
    _, role = project_for(request.user, job.project_id, VIEW_ROLE)
    context = tab_context(job.project, role, "jobs") | _job_context(job, role)
    return render(request, "trainer_bridge/jobs/_job_live.html", context)


@login_required
@require_POST
@flash_errors(lambda request, kind, job_id: reverse("jobs:job", args=[kind, job_id]))
def job_cancel_view(request: AuthedRequest, kind: str, job_id: int) -> HttpResponse:
    job = job_get(type=kind, job_id=job_id, user=request.user)
    job_cancel(job=job, user=request.user)  # checks who may manage this kind of job
    messages.info(request, f"Cancel asked for job #{job.pk}.")
    return redirect("jobs:job", kind=kind, job_id=job.pk)


@login_required
@require_POST
@flash_errors(lambda request, kind, job_id: reverse("jobs:job", args=[kind, job_id]))
def job_retry_view(request: AuthedRequest, kind: str, job_id: int) -> HttpResponse:
    job = job_get(type=kind, job_id=job_id, user=request.user)
    job_retry(job=job, user=request.user)  # checks who may manage this kind of job
    messages.info(request, f"Job #{job.pk} queued again; it resumes from what it saved.")
    return redirect("jobs:job", kind=kind, job_id=job.pk)
