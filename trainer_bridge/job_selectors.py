"""Reads for the model, job and retrain pages and the API: lookups with the role check, and payloads."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from core.errors import DomainError, NotAllowed, NotFound
from labeling.access import RANK, require_role
from labeling.models import Membership, Project
from trainer_bridge.job_runs import VIEW_ROLE
from trainer_bridge.models import GenerationJob, Job, ModelVersion, RetrainPolicy, TrainingJob

JOB_KINDS = {"generation": GenerationJob, "training": TrainingJob}


def job_kind(job: Job) -> str:
    return "generation" if isinstance(job, GenerationJob) else "training"


def job_get(
    *, kind: str, job_id: int, user: AbstractBaseUser, role: str = VIEW_ROLE
) -> GenerationJob | TrainingJob:
    model = JOB_KINDS.get(kind)
    if model is None:
        raise NotFound("no such job")
    related = ["project", "created_by"] + (
        ["model_version"] if model is GenerationJob else ["snapshot", "base_model", "output_model"]
    )
    job = model.objects.select_related(*related).filter(pk=job_id).first()
    if job is None:
        raise NotFound("no such job")
    require_role(user=user, project=job.project, role=role)
    return job


def jobs_for(*, project: Project, limit: int = 50) -> list[GenerationJob | TrainingJob]:
    """The project's generation and training jobs, newest first."""
    generation = GenerationJob.objects.filter(project=project).select_related("model_version", "created_by")
    training = TrainingJob.objects.filter(project=project).select_related(
        "snapshot", "base_model", "output_model", "created_by"
    )
    jobs: list[GenerationJob | TrainingJob] = [
        *generation.order_by("-id")[:limit],
        *training.order_by("-id")[:limit],
    ]
    return sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit]


def model_get(*, model_id: int, user: AbstractBaseUser, project: Project | None = None) -> ModelVersion:
    """A model the user may see: one of the project's, or a shared base model (for a reviewer anywhere)."""
    model = ModelVersion.objects.select_related("project", "parent", "snapshot").filter(pk=model_id).first()
    if model is None:
        raise NotFound("no such model")
    if project is not None and model.project_id not in (None, project.pk):
        raise NotFound("no such model in this project")
    owner = model.project or project
    if owner is not None:
        require_role(user=user, project=owner, role=VIEW_ROLE)
    elif not _reviewer_somewhere(user):
        raise NotAllowed("this needs the reviewer role in a project")
    return model


def _reviewer_somewhere(user: AbstractBaseUser) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    roles = Membership.objects.filter(user=user).values_list("role", flat=True)
    return any(RANK[role] >= RANK[VIEW_ROLE] for role in roles)


def policy_get(*, policy_id: int, user: AbstractBaseUser, role: str = VIEW_ROLE) -> RetrainPolicy:
    policy = RetrainPolicy.objects.select_related("project", "base_model").filter(pk=policy_id).first()
    if policy is None:
        raise NotFound("no such retrain policy")
    require_role(user=user, project=policy.project, role=role)
    return policy


def policies_for(*, project: Project) -> QuerySet[RetrainPolicy]:
    return RetrainPolicy.objects.filter(project=project).select_related("base_model").order_by("name")


INT_MAX = 2**31 - 1  # the largest value a Postgres integer column holds


def int_or_error(value: Any, field: str, *, default: int | None = None) -> int | None:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DomainError(f"{field} must be a whole number", field=field) from None
    if abs(number) > INT_MAX:
        raise DomainError(f"{field} must be below {INT_MAX + 1}", field=field)
    return number


def id_or_error(value: Any, field: str) -> int:
    """A required id from a form: a missing one is the sender's mistake, named by its field."""
    number = int_or_error(value, field)
    if number is None:
        raise DomainError(f"choose the {field.replace('_', ' ')}", field=field)
    return number


def float_or_error(value: Any, field: str, *, default: float) -> float:
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DomainError(f"{field} must be a number", field=field) from None


# --- payloads (API and the pages' live status) ---------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def model_payload(model: ModelVersion) -> dict[str, Any]:
    return {
        "id": model.pk,
        "name": model.name,
        "kind": model.kind,
        "path": model.path,
        "project": model.project_id,
        "parent": model.parent_id,
        "snapshot": model.snapshot_id,
        "metrics": model.metrics,
        "description": model.description,
        "created_at": _iso(model.created_at),
    }


def job_payload(job: GenerationJob | TrainingJob, *, log_tail: int | None = 50) -> dict[str, Any]:
    lines = job.log.splitlines()
    body: dict[str, Any] = {
        "id": job.pk,
        "type": job_kind(job),
        "project": job.project_id,
        "status": job.status,
        "cancel_requested": job.cancel_requested,
        "progress": round(job.progress, 4),
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "attempts": job.attempts,
        "error": job.error,
        "log": lines[-log_tail:] if log_tail else lines,
        "heartbeat_at": _iso(job.heartbeat_at),
        "created_by": job.created_by.get_username() if job.created_by_id else None,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }
    if isinstance(job, GenerationJob):
        body |= {
            "model_version": job.model_version_id,
            "prompts": len(job.prompt_ids),
            "prompt_filter": job.prompt_filter,
            "k": job.k,
            "sampling_params": job.sampling_params,
            "seed": job.seed,
            "batch_size": job.batch_size,
            "candidates_created": job.candidates_created,
            "ranking_tasks_created": job.ranking_tasks_created,
        }
    else:
        body |= {
            "kind": job.kind,
            "snapshot": job.snapshot_id,
            "base_model": job.base_model_id,
            "config": job.config,
            "data_options": job.data_options,
            "output_name": job.output_name,
            "output_model": job.output_model_id,
            "latest_metrics": job.latest_metrics,
        }
    return body


def metric_points(job: TrainingJob) -> list[tuple[int, dict[str, Any]]]:
    return list(job.metric_points.order_by("step").values_list("step", "values"))
