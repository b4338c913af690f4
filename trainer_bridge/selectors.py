"""Reads for the model, job and retrain pages and the API: lookups with the role check, lineage, payloads."""

from typing import Any

from django.db.models import Count, Q, QuerySet

from core.errors import NotAllowed, NotFound
from core.types import User
from curation.models import SnapshotRow
from curation.selectors import snapshot_row_count
from curation.splits import TRAIN, VALIDATION
from labeling.access import RANK, require_role
from labeling.models import Membership, Project, TaskKind
from registry.models import ModelServer, ModelVersion
from trainer_bridge.jobs.kinds import KINDS
from trainer_bridge.jobs.lifecycle import VIEW_ROLE
from trainer_bridge.models import (
    DraftingJob,
    GenerationJob,
    GRPOJob,
    Job,
    JobMetric,
    JobType,
    ModelOrigin,
    PracticeRun,
    ProbeRun,
    RetrainPolicy,
    ServingJob,
    TrainingJob,
)


def job_get(*, job_id: int, user: User, role: str = VIEW_ROLE, type: str | None = None) -> Job:
    """A job the user may see, as its own kind; `type` narrows it (a generation job's route, say)."""
    found = Job.objects.filter(pk=job_id).values_list("type", flat=True).first()
    if found is None or (type is not None and found != type):
        raise NotFound("no such job")
    model = KINDS[found].model
    job = model.objects.select_related("project", "created_by", "model_version", "output_model").get(
        pk=job_id
    )
    require_role(user=user, project=job.project, role=role)
    return job


_RELATED: dict[str, list[str]] = {
    JobType.EXPORT: ["snapshot", "practice_set"],
    JobType.TRAINING: ["snapshot"],
    JobType.PROBE: ["probe_set"],
    JobType.PRACTICE: ["practice_set"],
    JobType.BEST_OF_N: ["reward_model", "snapshot"],
}


def jobs_for(*, project: Project, limit: int = 50, types: list[str] | None = None) -> list[Job]:
    """The project's jobs, newest first, each as its own kind."""
    jobs = Job.objects.filter(project=project).order_by("-created_at", "-id")
    if types:
        jobs = jobs.filter(type__in=types)
    rows = list(jobs.values_list("pk", "type")[:limit])
    by_type: dict[str, list[int]] = {}
    for pk, job_type in rows:
        by_type.setdefault(job_type, []).append(pk)
    loaded: dict[int, Job] = {}
    for job_type, ids in by_type.items():
        related = ["created_by", "model_version", "output_model"]
        related += _RELATED.get(job_type, [])
        for job in KINDS[job_type].model.objects.filter(pk__in=ids).select_related(*related):
            loaded[job.pk] = job
    return [loaded[pk] for pk, _ in rows]


def model_get(*, model_id: int, user: User, project: Project | None = None) -> ModelVersion:
    """A model the user may see: one of the project's, or a shared base model (for a reviewer anywhere)."""
    model = ModelVersion.objects.select_related("project", "parent").filter(pk=model_id).first()
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


def _reviewer_somewhere(user: User) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    roles = Membership.objects.filter(user=user).values_list("role", flat=True)
    return any(RANK[role] >= RANK[VIEW_ROLE] for role in roles)


def policy_get(*, policy_id: int, user: User, role: str = VIEW_ROLE) -> RetrainPolicy:
    policy = RetrainPolicy.objects.select_related("project", "base_model").filter(pk=policy_id).first()
    if policy is None:
        raise NotFound("no such retrain policy")
    require_role(user=user, project=policy.project, role=role)
    return policy


def policies_for(*, project: Project) -> QuerySet[RetrainPolicy]:
    return RetrainPolicy.objects.filter(project=project).select_related("base_model").order_by("name")


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
        "adapter_of": model.adapter_of_id,
        "snapshot": trained_on(model=model),
        "practice_set": practiced_on(model=model),
        "metrics": model.metrics,
        "description": model.description,
        "created_at": _iso(model.created_at),
    }


def job_payload(job: Job, *, log_tail: int | None = 50) -> dict[str, Any]:
    lines = job.log.splitlines()
    body: dict[str, Any] = {
        "id": job.pk,
        "type": job.type,
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
        "created_by": job.created_by.get_username() if job.created_by else None,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "model_version": job.model_version_id,
        "output_model": job.output_model_id,
        "latest_metrics": job.latest_metrics,
    }
    if isinstance(job, GenerationJob):
        body |= {
            "prompts": len(job.prompt_ids),
            "prompt_filter": job.prompt_filter,
            "k": job.k,
            "sampling_params": job.sampling_params,
            "seed": job.seed,
            "batch_size": job.batch_size,
            "engine": job.engine,
            "candidates_created": job.candidates_created,
            "ranking_tasks_created": job.ranking_tasks_created,
        }
    elif isinstance(job, DraftingJob):
        body |= {
            "prompts": len(job.prompt_ids),
            "sampling_params": job.sampling_params,
            "seed": job.seed,
            "batch_size": job.batch_size,
            "engine": job.engine,
            "drafts_created": job.drafts_created,
        }
    elif isinstance(job, TrainingJob):
        body |= {
            "kind": job.kind,
            "snapshot": job.snapshot_id,
            "base_model": job.model_version_id,
            "config": job.config,
            "data_options": job.data_options,
            "output_name": job.output_name,
        }
    elif isinstance(job, GRPOJob):
        body |= {
            "practice_set": job.practice_set_id,
            "base_model": job.model_version_id,
            "reward_model": job.reward_model_id,
            "config": job.config,
            "output_name": job.output_name,
        }
    elif isinstance(job, ProbeRun | PracticeRun):
        body |= {
            "set": job.probe_set_id if isinstance(job, ProbeRun) else job.practice_set_id,
            "samples": job.samples,
            "max_new_tokens": job.max_new_tokens,
            "temperature": job.temperature,
            "seed": job.seed,
        } | ({"judge": job.judge} if isinstance(job, ProbeRun) else {})
    return body


def metric_points(job: Job) -> list[tuple[int, dict[str, Any]]]:
    return list(JobMetric.objects.filter(job_id=job.pk).order_by("step").values_list("step", "values"))


# --- lineage: from a model back to the labels behind it -------------------------------------------


def trained_on(*, model: ModelVersion) -> int | None:
    """The id of the snapshot the model learned from (None for a base model)."""
    return ModelOrigin.objects.filter(model=model).values_list("snapshot_id", flat=True).first()


def practiced_on(*, model: ModelVersion) -> int | None:
    """The id of the practice set a GRPO policy learned from (None for every other model)."""
    return ModelOrigin.objects.filter(model=model).values_list("practice_set_id", flat=True).first()


def model_practice_sets(*, model: ModelVersion) -> list[dict[str, Any]]:
    """Per ancestor trained by GRPO: its practice set, the problems it trained on and those held out."""
    found = []
    for version in model_lineage(model=model):
        origin = ModelOrigin.objects.select_related("practice_set").filter(model=version).first()
        if origin is None or origin.practice_set is None:
            continue
        counts = dict(origin.practice_set.problems.values_list("split").annotate(n=Count("id")).order_by())
        found.append(
            {
                "model": version,
                "practice_set": origin.practice_set,
                "problems": counts.get(TRAIN, 0),
                "held_out": counts.get(VALIDATION, 0),
            }
        )
    return found


def model_lineage(*, model: ModelVersion) -> list[ModelVersion]:
    """The model, its parent, its parent's parent, ... down to the base model."""
    chain, seen = [model], {model.pk}
    while chain[-1].parent_id is not None and chain[-1].parent_id not in seen:
        parent = ModelVersion.objects.select_related("origin__snapshot", "origin__practice_set").get(
            pk=chain[-1].parent_id
        )
        chain.append(parent)
        seen.add(parent.pk)
    return chain


def training_row_kinds(kind: str, data_options: dict[str, Any] | None = None) -> list[str]:
    """The kinds of snapshot rows a training of this kind learns from: rankings for a reward model and for
    DPO, the job's chosen kinds (else every demonstration kind) for SFT."""
    if kind in (ModelVersion.Kind.RM, TrainingJob.Kind.DPO):
        return [TaskKind.RANKING]
    if data_options and data_options.get("kinds"):
        return list(data_options["kinds"])
    return [k for k in TaskKind.values if k != TaskKind.RANKING]


def training_job_validation_rows(job: TrainingJob) -> int:
    """How many rows of the job's snapshot it can validate on (0: it reports no validation loss)."""
    kinds = training_row_kinds(job.kind, job.data_options)
    return snapshot_row_count(snapshot=job.snapshot, kinds=kinds, split=VALIDATION)


def learned_row_kinds(version: ModelVersion) -> list[str]:
    """The kinds of snapshot rows a trained version learned from: its training job's, or by its kind."""
    job = TrainingJob.objects.filter(output_model=version).only("kind", "data_options").first()
    if job is None:
        return training_row_kinds(version.kind)
    return training_row_kinds(job.kind, job.data_options)


def _trained_steps(model: ModelVersion) -> list[tuple[ModelVersion, ModelOrigin, list[str]]]:
    steps = []
    for version in model_lineage(model=model):
        origin = ModelOrigin.objects.select_related("snapshot").filter(model=version).first()
        if origin is not None and origin.snapshot_id is not None:  # a GRPO step learned from problems
            steps.append((version, origin, learned_row_kinds(version)))
    return steps


def model_training_rows(*, model: ModelVersion) -> QuerySet[SnapshotRow]:
    """Every frozen label that trained the model or any of its ancestors, oldest training first: the
    train split of the kinds each one learned from (a reward model learns from rankings only)."""
    learned = Q(pk__in=[])
    for _, origin, kinds in _trained_steps(model):
        learned |= Q(snapshot_id=origin.snapshot_id, kind__in=kinds, split=TRAIN)
    return SnapshotRow.objects.filter(learned).order_by("snapshot_id", "position")


def model_label_counts(*, model: ModelVersion) -> list[dict[str, Any]]:
    """Per ancestor that was trained: its snapshot, the labels it trained on by kind (the train split of
    the kinds it learned from) and those held out to validate it."""
    counts = []
    for version, origin, kinds in _trained_steps(model):
        rows = SnapshotRow.objects.filter(snapshot_id=origin.snapshot_id, kind__in=kinds)
        by_kind: dict[str, int] = {}
        validation: dict[str, int] = {}
        for row in rows.values("kind", "split").annotate(n=Count("id")).order_by("kind"):
            target = by_kind if row["split"] == TRAIN else validation
            target[row["kind"]] = target.get(row["kind"], 0) + row["n"]
        counts.append(
            {"model": version, "snapshot": origin.snapshot, "by_kind": by_kind, "validation": validation}
        )
    return counts


# --- model servers ---------------------------------------------------------------------------------------


def model_server_get(*, server_id: int, user: User, role: str = VIEW_ROLE) -> ModelServer:
    """A server, for a user who holds `role` in the project it was started or registered from."""
    found = (
        ModelServer.objects.select_related("model_version", "project", "created_by")
        .filter(pk=server_id)
        .first()
    )
    if found is None:
        raise NotFound("no such model server")
    require_role(user=user, project=found.project, role=role)
    return found


def server_payload(server: ModelServer) -> dict[str, Any]:
    job = ServingJob.objects.filter(server=server).values_list("pk", flat=True).first()
    return {
        "id": server.pk,
        "project": server.project_id,
        "model_version": server.model_version_id,
        "model_name": server.model_version.name,
        "engine": server.engine,
        "managed": server.managed,
        "url": server.url,
        "served_model_name": server.served_model_name,
        "api_key_env": server.api_key_env,
        "options": server.options,
        "status": server.status,
        "detail": server.detail,
        "checked_at": server.checked_at.isoformat() if server.checked_at else None,
        "created_by": server.created_by.get_username() if server.created_by else None,
        "created_at": server.created_at.isoformat(),
        "stopped_at": server.stopped_at.isoformat() if server.stopped_at else None,
        "serving_job": job,
    }
