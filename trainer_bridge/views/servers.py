"""Model server actions on the Models page: start, register, check and stop (admins; registering: staff)."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.forms import float_or_error, id_or_error, int_or_error
from core.pages import flash_errors
from core.types import AuthedRequest
from labeling.access import project_for
from trainer_bridge.selectors import model_get, model_server_get
from trainer_bridge.services.servers import (
    SERVER_ROLE,
    model_server_check,
    model_server_register,
    model_server_start,
    model_server_stop,
)


def _models_url(request: AuthedRequest, project_id: int, **kwargs: Any) -> str:
    return reverse("jobs:models", args=[project_id]) + "#servers"


@login_required
@require_POST
@flash_errors(_models_url)
def server_start(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, SERVER_ROLE)
    post = request.POST
    model = model_get(
        model_id=id_or_error(post.get("model_version"), "model_version"), user=request.user, project=project
    )
    options = {
        "tensor_parallel_size": int_or_error(post.get("tensor_parallel_size"), "tensor_parallel_size"),
        # 0 is out of range: the service refuses it, naming the field
        "gpu_memory_utilization": float_or_error(
            post.get("gpu_memory_utilization"), "gpu_memory_utilization", default=0.0
        )
        if post.get("gpu_memory_utilization")
        else None,
        "max_model_len": int_or_error(post.get("max_model_len"), "max_model_len"),
    }
    server = model_server_start(
        project=project,
        model_version=model,
        user=request.user,
        engine=post.get("engine") or "vllm",
        options={name: value for name, value in options.items() if value is not None},
    )
    messages.success(request, f"Starting {server}: it answers once its status turns healthy.")
    return redirect(_models_url(request, project.pk))


@login_required
@require_POST
@flash_errors(_models_url)
def server_register(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, SERVER_ROLE)
    post = request.POST
    model = model_get(
        model_id=id_or_error(post.get("model_version"), "model_version"), user=request.user, project=project
    )
    server = model_server_register(
        project=project,
        model_version=model,
        user=request.user,
        url=post.get("url", ""),
        served_model_name=post.get("served_model_name", ""),
        engine=post.get("engine") or "openai",
        api_key_env=post.get("api_key_env", "").strip(),
    )
    server = model_server_check(server=server, user=request.user)
    messages.success(request, f"Registered {server}: {server.status} ({server.detail}).")
    return redirect(_models_url(request, project.pk))


@login_required
@require_POST
@flash_errors(_models_url)
def server_action(request: AuthedRequest, project_id: int, server_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, SERVER_ROLE)
    server = model_server_get(server_id=server_id, user=request.user, role=SERVER_ROLE)
    action = request.POST.get("action")
    if action == "stop":
        server = model_server_stop(server=server, user=request.user)
        messages.success(request, f"{server}: {server.detail}.")
    elif action == "check":
        server = model_server_check(server=server, user=request.user)
        messages.success(request, f"{server} is {server.status}: {server.detail}.")
    else:
        messages.error(request, "The action is stop or check.")
    return redirect(_models_url(request, project.pk))
