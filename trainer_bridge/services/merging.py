"""Merge jobs: a LoRA adapter folded into its base model, registered as a model version of its own.

An adapter (ModelVersion kind "adapter") runs only on top of its base, so generation, serving and
scoring refuse it with a message that points here; the merged version they can use. The merge itself
is trainer_bridge.ml.merge (torch, peft), imported inside the run.
"""

from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from core.errors import Conflict, DomainError
from core.types import User
from labeling.access import require_role
from registry.models import ModelVersion
from trainer_bridge.jobs.lifecycle import JOB_ROLE, JobStopped, Run, job_log
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.models import Job, JobStatus, JobType, MergeJob

MERGED_KINDS = {"sft": ModelVersion.Kind.SFT, "rm": ModelVersion.Kind.RM}


@transaction.atomic
def merge_job_start(*, adapter: ModelVersion, user: User | None, output_name: str = "") -> MergeJob:
    """Queue the merge of `adapter` into its base; the output is a new model version."""
    if user is not None and adapter.project is not None:
        require_role(user=user, project=adapter.project, role=JOB_ROLE)  # before saying anything of it
    if adapter.kind != ModelVersion.Kind.ADAPTER or adapter.adapter_of is None:
        raise DomainError(f"{adapter.name} is not a LoRA adapter", field="model")
    if adapter.project is None:
        raise DomainError("an adapter merged by a job belongs to a project", field="model")
    name = (output_name or "").strip() or f"{adapter.name}-merged"
    if ModelVersion.objects.filter(name=name).exists() or MergeJob.objects.filter(output_name=name).exists():
        raise Conflict(f"a model named {name!r} exists or is being merged", field="output_name")
    job = MergeJob.objects.create(
        type=JobType.MERGE,
        project=adapter.project,
        model_version=adapter,
        output_name=name,
        progress_total=1,
        created_by=user,
    )
    job.output_dir = str(Path(settings.MODEL_ROOT) / "merged" / f"job-{job.pk}-{slugify(name)}")
    job.save(update_fields=["output_dir"])
    job_log(job, f"queued: merge adapter {adapter.name} into {adapter.adapter_of.name}, output {name}")
    job_dispatch(job)
    return job


def merge_work(run: Run, job: MergeJob) -> None:
    adapter = job.model()
    base = adapter.adapter_of
    if base is None:
        raise DomainError(f"{adapter.name} names no base model")
    out = Path(job.output_dir)
    if not (out / "config.json").is_file():
        from trainer_bridge.ml.merge import merge_adapter  # torch and peft: only GPU workers get here

        run.log(f"merging {adapter.path} into {base.path}")
        merge_adapter(
            adapter_dir=adapter.path,
            base_dir=base.path,
            out_dir=out,
            task=str(adapter.metrics.get("trained_as", "sft")),
        )
    _register(run, job, adapter)


@transaction.atomic
def _register(run: Run, job: MergeJob, adapter: ModelVersion) -> None:
    """The merged model and the job's end in one transaction."""
    Job.objects.select_for_update().filter(pk=job.pk).first()
    job = MergeJob.objects.get(pk=job.pk)
    model = job.output_model
    if model is None:
        model = ModelVersion.objects.create(
            name=job.output_name,
            kind=MERGED_KINDS.get(str(adapter.metrics.get("trained_as")), ModelVersion.Kind.SFT),
            path=job.output_dir,
            project=job.project,
            parent=adapter,
            metrics={"merged_from_adapter": adapter.pk},
            description=f"adapter {adapter.name} merged into its base by job {job.pk}",
            created_by=job.created_by,
        )
        job.output_model = model
        job.save(update_fields=["output_model"])
    if not run.finish(
        JobStatus.DONE,
        line=f"done: registered model version {model.name} (#{model.pk})",
        progress_done=1,
        progress_total=1,
    ):
        raise JobStopped("lost")
