"""The exports page: freeze a snapshot, start an export, watch its progress, download the file."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.pages import flash_errors, json_errors
from core.types import AuthedRequest
from curation.models import DatasetSnapshot
from curation.selectors import snapshots_for
from curation.snapshots import Verdict, snapshot_freeze
from labeling.access import project_for, project_nav
from labeling.models import Project
from trainer_bridge.models import ExportJob
from trainer_bridge.services.exports import (
    EXPORT_ROLE,
    export_job_file,
    export_job_for,
    export_job_payload,
    export_job_start,
)

SFT_KINDS = ["demonstration", "refusal", "search", "chat"]
VERDICT_LABELS = {
    Verdict.ACCEPTED: "Accepted work only (accepted, or edited by a reviewer)",
    Verdict.UNREVIEWED_ALLOWED: "Accepted work and work not reviewed yet",
}
EXPORT_LABELS = {"sft": "SFT (messages)", "rm": "Reward model", "prompts": "Prompts (RL)"}


def export_options_text(kind: str, options: dict[str, Any]) -> str:
    """An export's options as a person reads them: "JSONL · all splits · pairwise · by labeler"."""
    parts = [str(options.get("format", "")).upper()]
    split = options.get("split", "all")
    parts.append("all splits" if split == "all" else f"{split} split")
    if kind == "rm":
        parts += [options.get("mode", ""), f"by {options.get('by', '')}"]
        if options.get("margin"):
            parts.append("with margin")
        if options.get("edited_over_draft"):
            parts.append("with edited-over-draft pairs")
    elif options.get("kinds"):
        parts.append(", ".join(options["kinds"]))
    if options.get("skip_unchanged_drafts"):
        parts.append("without unchanged drafts")
    return " · ".join(str(p) for p in parts if p)


def _project(request: AuthedRequest, project_id: int) -> Project:
    return project_for(request.user, project_id, EXPORT_ROLE)[0]


def _exports_url(request: AuthedRequest, project_id: int) -> str:
    return reverse("trainer_bridge:exports", args=[project_id])


def _snapshot_exports_url(request: AuthedRequest, snapshot_id: int) -> str:
    project_id = DatasetSnapshot.objects.filter(pk=snapshot_id).values_list("project_id", flat=True).first()
    return reverse("trainer_bridge:exports", args=[project_id])


def _status_url(job: ExportJob) -> str:
    return reverse("trainer_bridge:export-status", args=[job.pk])


def _download_url(job: ExportJob) -> str:
    return reverse("trainer_bridge:export-download", args=[job.pk])


@login_required
@require_GET
def exports_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, EXPORT_ROLE)
    jobs = (
        ExportJob.objects.filter(project=project)
        .select_related("snapshot", "practice_set", "created_by")
        .order_by("-created_at", "-id")[:50]
    )
    context = project_nav(project, role, "exports") | {
        "snapshots": snapshots_for(project=project),
        "jobs": [
            {
                "job": job,
                "payload": export_job_payload(job, download_url=_download_url(job)),
                "status_url": _status_url(job),
                "label": EXPORT_LABELS.get(job.kind, job.kind),
                "options": export_options_text(job.kind, job.options),
            }
            for job in jobs
        ],
        "verdicts": list(VERDICT_LABELS.items()),
        "task_kinds": project.task_kinds,
        "sft_kinds": [kind for kind in SFT_KINDS if kind in project.task_kinds] or SFT_KINDS,
        "export_kinds": list(EXPORT_LABELS.items()),
    }
    return render(request, "trainer_bridge/exports.html", context)


@login_required
@require_POST
@flash_errors(_exports_url)
def snapshot_create(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = _project(request, project_id)
    try:
        fraction = float(request.POST.get("validation_fraction") or 0.1)
        seed = int(request.POST.get("seed") or 0)
    except ValueError:
        raise DomainError(
            "The seed is a whole number and the validation fraction a number below 1.", field="seed"
        ) from None
    snapshot = snapshot_freeze(
        project=project,
        created_by=request.user,
        name=request.POST.get("name", ""),
        kinds=request.POST.getlist("kinds") or None,
        verdict=request.POST.get("verdict") or Verdict.ACCEPTED,
        seed=seed,
        validation_fraction=fraction,
    )
    messages.success(request, f"Snapshot {snapshot.name} frozen: {snapshot.row_count} rows.")
    return redirect("trainer_bridge:exports", project_id=project.pk)


@login_required
@require_POST
@flash_errors(_snapshot_exports_url)
def export_start(request: AuthedRequest, snapshot_id: int) -> HttpResponse:
    snapshot = get_object_or_404(
        DatasetSnapshot.objects.select_related("project").exclude(sha256=""), pk=snapshot_id
    )
    kind = request.POST.get("kind", "")
    options: dict[str, Any] = {"format": request.POST.get("format"), "split": request.POST.get("split")}
    if kind in ("rm", "prompts"):
        options["layout"] = request.POST.get("layout")
    if kind == "rm":
        options |= {
            "mode": request.POST.get("mode"),
            "by": request.POST.get("by"),
            "margin": "margin" in request.POST,
            "edited_over_draft": "edited_over_draft" in request.POST,
        }
    elif kind == "sft":
        options["kinds"] = request.POST.getlist("kinds") or None
        options["skip_unchanged_drafts"] = "skip_unchanged_drafts" in request.POST
    job, created = export_job_start(snapshot=snapshot, kind=kind, options=options, user=request.user)
    if not created:
        messages.info(request, "The same export exists already; here it is.")
    return redirect("trainer_bridge:exports", project_id=snapshot.project_id)


@login_required
@require_GET
@json_errors
def export_status(request: AuthedRequest, job_id: int) -> JsonResponse:
    job = export_job_for(job_id=job_id, user=request.user)
    return JsonResponse(export_job_payload(job, download_url=_download_url(job)))


@login_required
@require_GET
def export_download(request: AuthedRequest, job_id: int) -> HttpResponse | FileResponse:
    job = export_job_for(job_id=job_id, user=request.user)
    try:
        path = export_job_file(job)
    except DomainError as exc:
        return HttpResponse(exc.detail, status=exc.status, content_type="text/plain")
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)
