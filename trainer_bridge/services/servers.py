"""Model servers: started by Coach (a serving job keeps each one running), or registered by an operator.

Who may do what: a project's admins start, check and stop the servers of the models their project
sees; registering a server by its address (Coach will send prompts there) is for site staff too. Every
path (page, API, command) goes through these functions. docs/operations.md, "Model servers", says how
the pieces run in production.
"""

import re
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, DomainError, NotAllowed
from core.types import User
from labeling.access import require_role
from labeling.models import Project
from registry.client import probe
from registry.models import ModelServer, ModelVersion
from trainer_bridge.jobs.lifecycle import JOB_ROLE, JobStopped, Run, job_cancel, job_log
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.models import JobStatus, JobType, ServingJob

SERVER_ROLE = JOB_ROLE  # admins start, check and stop servers
STARTED_ENGINES = (ModelServer.Engine.VLLM, ModelServer.Engine.TRANSFORMERS)
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,99}")
Status = ModelServer.Status


def _who(user: User | None) -> str:
    return user.get_username() if user is not None else "the system"


def _check_model(*, project: Project, model_version: ModelVersion) -> None:
    if refusal := model_version.adapter_refusal():
        raise DomainError(refusal, field="model_version")
    if model_version.kind == ModelVersion.Kind.RM:
        raise DomainError("a reward model scores answers; it does not write them", field="model_version")
    if model_version.project_id not in (None, project.pk):
        raise DomainError("this model belongs to another project", field="model_version")


def _options(engine: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """How a vLLM server is started: GPUs per server, the share of memory it keeps, the longest sequence."""
    options = dict(options or {})
    if engine != ModelServer.Engine.VLLM:
        if options:
            raise DomainError("only a vLLM server takes options", field="options")
        return {}
    known = {"tensor_parallel_size", "gpu_memory_utilization", "max_model_len"}
    if unknown := sorted(set(options) - known):
        raise DomainError(f"unknown options {unknown}; known: {sorted(known)}", field="options")
    checked: dict[str, Any] = {}
    for name, kind, low, high in (
        ("tensor_parallel_size", int, 1, 64),
        ("gpu_memory_utilization", float, 0.01, 1.0),
        ("max_model_len", int, 16, 1_048_576),
    ):
        value = options.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise DomainError(f"{name} is a number from {low} to {high}", field=name)
        if kind is int and value != int(value):
            raise DomainError(f"{name} is a whole number", field=name)
        checked[name] = kind(value)
    return checked


@transaction.atomic
def model_server_start(
    *,
    project: Project,
    model_version: ModelVersion,
    user: User | None,
    engine: str = ModelServer.Engine.VLLM,
    options: dict[str, Any] | None = None,
) -> ModelServer:
    """Queue a serving job that starts a server for the version and keeps it running until it is stopped."""
    if user is not None:
        require_role(user=user, project=project, role=SERVER_ROLE)
    _check_model(project=project, model_version=model_version)
    if engine not in STARTED_ENGINES:
        raise DomainError(f"Coach starts {[str(e) for e in STARTED_ENGINES]} servers", field="engine")
    server = ModelServer.objects.create(
        model_version=model_version,
        project=project,
        engine=engine,
        managed=True,
        served_model_name=model_version.name,
        options=_options(engine, options),
        status=Status.STARTING,
        detail="queued",
        created_by=user,
    )
    job = ServingJob.objects.create(
        type=JobType.SERVING,
        project=project,
        model_version=model_version,
        server=server,
        progress_total=1,
        created_by=user,
    )
    job_log(job, f"queued: a {server.get_engine_display()} server for {model_version.name}, by {_who(user)}")
    job_dispatch(job)
    return server


def _checked_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise DomainError("the address is an http(s) URL such as http://gpu-3:8000/v1", field="url")
    if len(url) > 500:
        raise DomainError("the address is at most 500 characters", field="url")
    return url


@transaction.atomic
def model_server_register(
    *,
    project: Project,
    model_version: ModelVersion,
    url: str,
    user: User,
    served_model_name: str = "",
    engine: str = ModelServer.Engine.OPENAI,
    api_key_env: str = "",
) -> ModelServer:
    """Record a server an operator runs (vLLM on a GPU group, a hosted model): jobs will sample from it."""
    require_role(user=user, project=project, role=SERVER_ROLE)
    if not user.is_staff:
        raise NotAllowed("registering a server's address (Coach sends prompts there) is for site staff")
    _check_model(project=project, model_version=model_version)
    if engine not in ModelServer.Engine.values:
        raise DomainError(f"engine is one of {ModelServer.Engine.values}", field="engine")
    if api_key_env and not ENV_NAME.fullmatch(api_key_env):
        raise DomainError(
            "api_key_env names an environment variable (capitals, digits, _), not the key itself",
            field="api_key_env",
        )
    served_model_name = served_model_name.strip() or model_version.name
    if len(served_model_name) > 200:
        raise DomainError("served_model_name is at most 200 characters", field="served_model_name")
    url = _checked_url(url)
    if ModelServer.objects.filter(url=url, served_model_name=served_model_name, status__in=ModelServer.LIVE):
        raise Conflict(f"{url} is registered for {served_model_name} already", field="url")
    return ModelServer.objects.create(
        model_version=model_version,
        project=project,
        engine=engine,
        managed=False,
        url=url,
        served_model_name=served_model_name,
        api_key_env=api_key_env,
        status=Status.UNHEALTHY,
        detail="not checked yet",
        created_by=user,
    )


@transaction.atomic
def model_server_stop(*, server: ModelServer, user: User | None) -> ModelServer:
    """Stop a server Coach started (its serving job ends it), or stop using one an operator registered."""
    if user is not None:
        require_role(user=user, project=server.project, role=SERVER_ROLE)
    locked = ModelServer.objects.select_for_update().get(pk=server.pk)
    if locked.status in (Status.STOPPING, Status.STOPPED):
        raise Conflict(f"the server is {locked.status} already")
    job = ServingJob.objects.filter(server=locked).first() if locked.managed else None
    if job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        job = job_cancel(job=job, user=user)  # type: ignore[assignment]
    if job is not None and job.status == JobStatus.RUNNING:
        locked.status, locked.detail = Status.STOPPING, f"stop asked by {_who(user)}"
    else:
        locked.status, locked.stopped_at = Status.STOPPED, timezone.now()
        locked.detail = f"{'stopped' if locked.managed else 'unregistered'} by {_who(user)}"
    locked.save(update_fields=["status", "detail", "stopped_at"])
    return locked


def _record(server: ModelServer, *, live_only: bool = True, **fields: Any) -> bool:
    """Write the server's state; a health check never brings a stopping or stopped server back."""
    rows = ModelServer.objects.filter(pk=server.pk)
    if live_only:
        rows = rows.filter(status__in=ModelServer.LIVE)
    return bool(rows.update(**fields))


def model_server_check(*, server: ModelServer, user: User | None = None) -> ModelServer:
    """Ask the server whether it answers for its model now, and record what it said."""
    if user is not None:
        require_role(user=user, project=server.project, role=SERVER_ROLE)
    if server.status in (Status.STOPPING, Status.STOPPED):
        raise Conflict(f"the server is {server.status}")
    if not server.url:
        raise Conflict("the server has no address yet: it is still starting", field="server")
    healthy, said = probe(server)  # outside any transaction: it waits on the network
    if server.managed and server.status == Status.STARTING and not healthy:
        said = f"still starting ({said})"
        _record(server, checked_at=timezone.now(), detail=said)
    else:
        _record(
            server,
            status=Status.HEALTHY if healthy else Status.UNHEALTHY,
            checked_at=timezone.now(),
            detail=said,
        )
    server.refresh_from_db()
    return server


def model_servers_check() -> int:
    """On the beat: a server whose serving job has ended is stopped; every other live server with an address
    is asked whether it answers. Returns how many were asked."""
    ended = ModelServer.objects.filter(
        managed=True, status__in=[*ModelServer.LIVE, Status.STOPPING], job__status__in=ServingJob.FINISHED
    )
    for server in ended.select_related("job"):
        _record(
            server,
            live_only=False,
            status=Status.STOPPED,
            stopped_at=timezone.now(),
            detail=f"its serving job is {server.job.status}",
        )
    servers = list(ModelServer.objects.filter(status__in=ModelServer.LIVE).exclude(url=""))
    for server in servers:
        try:
            model_server_check(server=server)
        except Conflict:
            pass  # stopped meanwhile
    return len(servers)


# --- the serving job -------------------------------------------------------------------------------------


def _pause(run: Run, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.check()
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


def serving_work(run: Run, job: ServingJob) -> None:
    """Start the job's server, mark it healthy once it answers, check it until the job is cancelled."""
    from trainer_bridge import serving  # starts processes: only the machines that host servers get here

    server = ModelServer.objects.select_related("model_version").get(pk=job.server_id)
    model = server.model_version  # a retried job brings its stopped server back
    try:
        process = serving.launch(
            engine=server.engine,
            model_dir=model.path,
            served_name=server.served_model_name,
            options=server.options,
        )
    except serving.ServerFailed as exc:
        _record(server, live_only=False, status=Status.STOPPED, stopped_at=timezone.now(), detail=str(exc))
        raise DomainError(str(exc)) from exc
    where = f"{socket.gethostname()} pid {process.process.pid}"
    _record(
        server,
        live_only=False,
        status=Status.STARTING,
        url=process.url,
        stopped_at=None,
        detail=f"starting on {where}",
    )
    server.url = process.url
    run.log(f"starting {server.engine} for {model.name} at {process.url} ({where}; log {process.log_path})")

    def ours(states: tuple[str, ...] = ModelServer.LIVE, **fields: Any) -> None:
        # Only while the row still names this process (a run that took the job over has its own), and
        # a check never brings back a server being stopped.
        ModelServer.objects.filter(pk=server.pk, url=process.url, status__in=states).update(**fields)

    def down(detail: str) -> None:
        serving.stop(process)
        ours(
            (*ModelServer.LIVE, Status.STOPPING),
            status=Status.STOPPED,
            stopped_at=timezone.now(),
            detail=detail,
        )

    started = time.monotonic()
    try:
        if not serving.wait_ready(
            process, timeout=settings.SERVER_START_SECONDS, should_stop=run.should_stop
        ):
            run.check()
        ours(status=Status.HEALTHY, checked_at=timezone.now(), detail=f"answering on {where}")
        run.update(progress_done=1, progress_total=1)
        run.log(f"answering at {process.url} after {time.monotonic() - started:.0f} s")
        while True:
            _pause(run, settings.SERVER_CHECK_SECONDS)
            if not process.running():
                raise serving.ServerFailed(
                    f"the server exited with code {process.process.returncode}:\n{process.log_tail()}"
                )
            healthy, said = probe(server)
            ours(
                status=Status.HEALTHY if healthy else Status.UNHEALTHY, checked_at=timezone.now(), detail=said
            )
    except JobStopped:
        if run.stop_reason != "cancelled":
            serving.stop(process)  # another run holds the job and starts a server of its own
            raise
        down("stopped")
        run.finish(JobStatus.DONE, line="stopped as asked: the server is down")
    except serving.ServerFailed as exc:
        down(str(exc)[-2000:])
        raise DomainError(str(exc)) from exc
    except BaseException:
        down("its serving job failed")
        raise
