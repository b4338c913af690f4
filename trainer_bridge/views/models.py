"""Model pages: the registry of a project, a model's lineage and every label that trained it."""

import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.types import AuthedRequest
from labeling.access import has_role, project_for
from registry.models import ModelServer, ModelVersion
from registry.selectors import models_for, servers_for
from trainer_bridge.jobs.lifecycle import VIEW_ROLE
from trainer_bridge.models import Job, JobType
from trainer_bridge.selectors import (
    model_get,
    model_label_counts,
    model_lineage,
    model_practice_sets,
    model_training_rows,
)
from trainer_bridge.services.servers import SERVER_ROLE, STARTED_ENGINES
from trainer_bridge.views.nav import lineage_text, tab_context


@login_required
@require_GET
def models_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, VIEW_ROLE)
    models = list(models_for(project_id=project.pk))
    context = tab_context(project, role, "models") | {
        "models": [(m, lineage_text(m)) for m in models],
        "servers": servers_for(project_id=project.pk)[:100],
        "can_manage_servers": has_role(role, SERVER_ROLE),
        "servable": [m for m in models if m.kind != ModelVersion.Kind.RM],
        "started_engines": [(e, ModelServer.Engine(e).label) for e in STARTED_ENGINES],
        "engines": ModelServer.Engine.choices,
    }
    return render(request, "trainer_bridge/jobs/models.html", context)


@login_required
@require_GET
def model_detail(request: AuthedRequest, project_id: int, model_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, VIEW_ROLE)
    model = model_get(model_id=model_id, user=request.user, project=project)
    counts = model_label_counts(model=model)
    context = tab_context(project, role, "models") | {
        "model": model,
        "lineage": model_lineage(model=model),
        "label_counts": counts,
        "labels_total": sum(sum(c["by_kind"].values()) for c in counts),
        "validation_total": sum(sum(c["validation"].values()) for c in counts),
        "children": models_for(project_id=project.pk).filter(parent=model),  # not other projects' models
        "practice_steps": model_practice_sets(model=model),
        "training_job": Job.objects.filter(
            output_model=model, type__in=[JobType.TRAINING, JobType.GRPO]
        ).first(),
    }
    return render(request, "trainer_bridge/jobs/model_detail.html", context)


@login_required
@require_GET
def model_labels(request: AuthedRequest, project_id: int, model_id: int) -> HttpResponse:
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
    context = tab_context(project, role, "models") | {"model": model, "page": page, "rows": rows}
    return render(request, "trainer_bridge/jobs/model_labels.html", context)
