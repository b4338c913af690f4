"""Training jobs: SFT, a K-wise reward model or DPO on a frozen snapshot; the output is a new ModelVersion.

The training loops live in trainer_bridge.ml (torch); they are imported inside the run, so only GPU
workers load them. The job's rows are the snapshot's, built by the export row builders: DPO learns from
the same pairs the reward-model pair export writes (by labeler or by consensus; a tie gives no pair).
"""

import importlib.util
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from core.errors import Conflict, DomainError
from core.types import User
from curation.models import DatasetSnapshot
from curation.selectors import snapshot_row_count, snapshot_rows
from curation.snapshots import snapshot_consensus_rule
from curation.splits import TRAIN, VALIDATION
from labeling.access import require_role
from labeling.models import TaskKind
from registry.chat_templates import chat_template_problem
from registry.models import ModelVersion
from trainer_bridge.exports.records import kwise_records, pair_records, sft_records
from trainer_bridge.jobs.lifecycle import JOB_ROLE, JobStopped, Run, job_log
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.ml.config import DPO_LOSSES, DPOConfig, RMConfig, SFTConfig
from trainer_bridge.models import Job, JobStatus, JobType, ModelOrigin, TrainingJob
from trainer_bridge.services.run_settings import at_least_one, settings_checked
from trainer_bridge.services.scoring import queue_refresh_after_retrain
from trainer_bridge.services.supervised import finite, launch_supervised, progress_record

SFT_ROW_KINDS = [TaskKind.DEMONSTRATION, TaskKind.REFUSAL, TaskKind.SEARCH]
RM_BY = ("labeler", "consensus")
# What each kind of training may start from: SFT continues a causal LM; a reward model grows a score
# head on a causal LM (as InstructGPT's does on the SFT model) or continues a reward model.
ALLOWED_BASES: dict[str, set[str]] = {
    TrainingJob.Kind.SFT: {ModelVersion.Kind.BASE, ModelVersion.Kind.SFT, ModelVersion.Kind.POLICY},
    TrainingJob.Kind.RM: {ModelVersion.Kind.BASE, ModelVersion.Kind.SFT, ModelVersion.Kind.RM},
    # DPO tunes a causal LM (best an SFT model, as in the DPO paper); the starting model is its reference.
    TrainingJob.Kind.DPO: {ModelVersion.Kind.BASE, ModelVersion.Kind.SFT, ModelVersion.Kind.POLICY},
}
# The kind of model version each training registers.
OUTPUT_KIND: dict[str, str] = {
    TrainingJob.Kind.SFT: ModelVersion.Kind.SFT,
    TrainingJob.Kind.RM: ModelVersion.Kind.RM,
    TrainingJob.Kind.DPO: ModelVersion.Kind.POLICY,
}
# Small defaults that suit a demo on the CPU; real runs pass their own.
JOB_DEFAULTS: dict[str, dict[str, Any]] = {
    TrainingJob.Kind.SFT: {"eval_every": 20, "checkpoint_every": 50, "log_every": 5},
    TrainingJob.Kind.RM: {"eval_every": 20, "checkpoint_every": 50, "log_every": 5},
    TrainingJob.Kind.DPO: {"eval_every": 20, "checkpoint_every": 50, "log_every": 5},
}
CONFIG_CLASSES: dict[str, type[SFTConfig] | type[RMConfig] | type[DPOConfig]] = {
    TrainingJob.Kind.SFT: SFTConfig,
    TrainingJob.Kind.RM: RMConfig,
    TrainingJob.Kind.DPO: DPOConfig,
}
# What a training learns from, in words
UNITS: dict[str, str] = {
    TrainingJob.Kind.SFT: "conversations",
    TrainingJob.Kind.RM: "rankings",
    TrainingJob.Kind.DPO: "preference pairs",
}


def config_class(kind: str) -> type[SFTConfig] | type[RMConfig] | type[DPOConfig]:
    return CONFIG_CLASSES[kind]


def training_config(kind: str, raw: dict[str, Any] | None) -> dict[str, Any]:
    """The job's hyperparameters, checked against the training loop's config (output_dir is the job's)."""
    if kind not in TrainingJob.Kind.values:
        raise DomainError(f"a training job is one of {TrainingJob.Kind.values}", field="kind")
    config = settings_checked(raw, config_class(kind), JOB_DEFAULTS[kind], kind)
    if "loss_type" in config and config["loss_type"] not in DPO_LOSSES:
        raise DomainError(f"loss_type is one of {list(DPO_LOSSES)}", field="loss_type")
    at_least_one(
        config,
        ("batch_size", "groups_per_batch", "epochs", "max_steps", "eval_every", "log_every", "processes",
         "gradient_accumulation_steps"),
    )  # fmt: skip
    if "beta" in config and config["beta"] <= 0:  # IPO divides by it; 0 would leave the reference unbound
        raise DomainError("beta must be above 0", field="beta")
    _check_engine_options(config, kind)
    return config


def _check_engine_options(config: dict[str, Any], kind: str) -> None:
    """Refuse what no worker can run before the job is queued (the worker checks the GPU part again)."""
    batch_name = "groups_per_batch" if kind == TrainingJob.Kind.RM else "batch_size"
    batch = config.get(batch_name, getattr(config_class(kind), batch_name))
    parts = config.get("processes", 1) * config.get("gradient_accumulation_steps", 1)
    if batch % parts:
        raise DomainError(
            f"{batch_name} {batch} does not split over {config.get('processes', 1)} processes × "
            f"{config.get('gradient_accumulation_steps', 1)} accumulation steps; "
            f"make it a multiple of {parts}",
            field=batch_name,
        )
    if config.get("qlora") and importlib.util.find_spec("bitsandbytes") is None:
        raise DomainError(
            "QLoRA needs bitsandbytes and a GPU, and this installation has no bitsandbytes: use lora_r "
            "(LoRA on a bf16 or float32 base) instead",
            field="qlora",
        )
    if path := config.get("deepspeed"):
        if importlib.util.find_spec("deepspeed") is None:
            raise DomainError(
                "DeepSpeed is not installed here (pip install deepspeed on GPU machines); use fsdp instead",
                field="deepspeed",
            )
        if not Path(path).is_file():
            raise DomainError(f"no DeepSpeed config file at {path}", field="deepspeed")
    if config.get("fsdp") and (config.get("lora_r") or config.get("qlora")):
        raise DomainError("FSDP shards a full fine-tune; a LoRA run does without it", field="fsdp")
    if config.get("fsdp") and config.get("deepspeed"):
        raise DomainError("choose FSDP or DeepSpeed, not both", field="deepspeed")


def _data_options(kind: str, snapshot: DatasetSnapshot, raw: dict[str, Any] | None) -> dict[str, Any]:
    raw = dict(raw or {})
    if kind == TrainingJob.Kind.SFT:
        kinds = raw.pop("kinds", None) or list(SFT_ROW_KINDS)
        if unknown := sorted(set(kinds) - set(SFT_ROW_KINDS)):
            raise DomainError(f"SFT trains on {list(SFT_ROW_KINDS)}, not {unknown}", field="kinds")
        options: dict[str, Any] = {"kinds": sorted(set(kinds))}
        row_kinds = options["kinds"]
    else:
        by = raw.pop("by", None) or "labeler"
        if by not in RM_BY:
            raise DomainError(f"by is one of {list(RM_BY)}", field="by")
        options, row_kinds = {"by": by}, [TaskKind.RANKING]
    if raw:
        raise DomainError(f"options {sorted(raw)} do not apply to {kind} training", field=sorted(raw)[0])
    if snapshot_row_count(snapshot=snapshot, kinds=row_kinds, split=TRAIN) == 0:
        what = " or ".join(row_kinds)
        raise DomainError(f"snapshot {snapshot.name} has no {what} rows in its train split", field="snapshot")
    if kind == TrainingJob.Kind.DPO and not _preference_pairs(snapshot, options["by"], TRAIN, first=True):
        raise DomainError(
            f"the rankings in the train split of snapshot {snapshot.name} give no preference pair "
            f"{'by consensus' if options['by'] == 'consensus' else 'by labeler'}: every answer is tied",
            field="snapshot",
        )
    return options


def _preference_pairs(
    snapshot: DatasetSnapshot, by: str, split: str, *, first: bool = False
) -> list[dict[str, Any]]:
    """The snapshot's preference pairs, as the pair export writes them (only the first with first=True)."""
    pairs = []
    with transaction.atomic():  # the snapshot's rows stream from a server-side cursor
        rows = snapshot_rows(snapshot=snapshot, kinds=[TaskKind.RANKING], split=split)
        for pair in pair_records(rows, by=by, margin=False, consensus=snapshot_consensus_rule(snapshot)):
            pairs.append({"prompt": pair["prompt"], "chosen": pair["chosen"], "rejected": pair["rejected"]})
            if first:
                break
    return pairs


@transaction.atomic
def training_job_start(
    *,
    snapshot: DatasetSnapshot,
    base_model: ModelVersion,
    kind: str,
    user: User | None,
    config: dict[str, Any] | None = None,
    data_options: dict[str, Any] | None = None,
    output_name: str = "",
) -> TrainingJob:
    """Queue SFT or reward-model training of `base_model` on the snapshot's train split."""
    project = snapshot.project
    if user is not None:
        require_role(user=user, project=project, role=JOB_ROLE)
    if not snapshot.sha256:
        raise DomainError("the snapshot is still being frozen", field="snapshot")
    if kind not in TrainingJob.Kind.values:
        raise DomainError(f"a training job is one of {TrainingJob.Kind.values}", field="kind")
    if base_model.kind not in ALLOWED_BASES[kind]:
        raise DomainError(f"{kind} training cannot start from a {base_model.kind} model", field="base_model")
    if base_model.project_id not in (None, project.pk):
        raise DomainError("this model belongs to another project", field="base_model")
    if kind == TrainingJob.Kind.SFT and (problem := chat_template_problem(base_model.path)):
        raise DomainError(problem, field="base_model")  # the worker would find no assistant token
    checked = training_config(kind, config)
    options = _data_options(kind, snapshot, data_options)
    job = TrainingJob.objects.create(
        type=JobType.TRAINING,
        kind=kind,
        project=project,
        snapshot=snapshot,
        model_version=base_model,
        config=checked,
        data_options=options,
        output_name="",
        output_dir="",
        created_by=user,
    )
    name = (output_name or "").strip() or f"{slugify(project.name) or 'project'}-{kind}-{job.pk}"
    if (
        ModelVersion.objects.filter(name=name).exists()
        or TrainingJob.objects.filter(output_name=name).exists()
    ):
        raise Conflict(f"a model named {name!r} exists or is being trained", field="output_name")
    job.output_name = name
    job.output_dir = str(Path(settings.MODEL_ROOT) / "training" / f"job-{job.pk}-{slugify(name)}")
    job.save(update_fields=["output_name", "output_dir"])
    job_log(job, f"queued: {kind} on snapshot {snapshot.name} from {base_model.name}, output {name}")
    job_dispatch(job)
    return job


def _rows(job: TrainingJob, split: str) -> list[dict[str, Any]]:
    if job.kind == TrainingJob.Kind.DPO:
        return _preference_pairs(job.snapshot, job.data_options["by"], split)
    with transaction.atomic():  # the snapshot's rows stream from a server-side cursor
        if job.kind == TrainingJob.Kind.SFT:
            rows = snapshot_rows(snapshot=job.snapshot, kinds=job.data_options["kinds"], split=split)
            return list(sft_records(rows))
        rows = snapshot_rows(snapshot=job.snapshot, kinds=[TaskKind.RANKING], split=split)
        return [
            {"prompt": r["prompt"], "candidates": r["candidates"], "tiers": r["tiers"]}
            for r in kwise_records(
                rows, by=job.data_options["by"], consensus=snapshot_consensus_rule(job.snapshot)
            )
        ]


def training_work(run: Run, job: TrainingJob) -> None:
    """Run or resume a training job from its newest checkpoint; a finished one only registers its output."""
    train_rows, val_rows = _rows(job, TRAIN), _rows(job, VALIDATION)
    unit = UNITS[job.kind]
    run.log(
        f"{len(train_rows)} training and {len(val_rows)} validation {unit} from snapshot {job.snapshot.name}"
    )
    if not val_rows:
        run.log(
            f"warning: the validation split of snapshot {job.snapshot.name} holds no {unit}: no validation "
            "loss will be reported, so overfitting cannot be seen"
        )
    cfg = config_class(job.kind)(output_dir=Path(job.output_dir), **job.config)

    def on_progress(step: int, total: int, metrics: dict[str, Any]) -> None:
        values = progress_record(run, job.pk, step, total, metrics)
        shown = ", ".join(
            f"{key} {values[key]:.4g}"
            for key in (
                "train_loss",
                "val_loss",
                "train_pair_accuracy",
                "val_pair_accuracy",
                "reward_margin",
            )  # fmt: skip
            if isinstance(values.get(key), float)
        )
        run.log(f"step {step}/{total}: {shown}")

    base = job.model()
    out = Path(job.output_dir)
    result = _finished(out)
    if result is None:
        if isinstance(cfg, DPOConfig):
            run.log(f"{cfg.loss_type} loss, beta {cfg.beta}, reference model {base.name}")
        processes = f"{cfg.processes} process{'es' if cfg.processes > 1 else ''}"
        result = launch_supervised(
            run,
            entry="trainer_bridge.ml.train",
            output_dir=out,
            rows={"train": train_rows, "val": val_rows},
            config={"kind": job.kind, "model_dir": base.path},
            cfg=cfg,
            on_progress=on_progress,
            started=f"training from {base.path} into {job.output_dir} on {processes} (torchrun)",
        )
    if result.get("resumed_from_step"):
        run.log(f"resumed from the checkpoint at step {result['resumed_from_step']}")
    _register_output(run, job, finite(result))


def _finished(out: Path) -> dict[str, Any] | None:
    path = out / "final" / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


@transaction.atomic
def _register_output(run: Run, job: TrainingJob, result: dict[str, Any]) -> None:
    """The output model and the job's end in one transaction: a job is done exactly when its model exists."""
    Job.objects.select_for_update().filter(pk=job.pk).first()  # one registration at a time
    job = TrainingJob.objects.select_related("model_version", "snapshot").get(pk=job.pk)
    model = job.output_model
    if model is None:
        adapter = bool(result.get("adapter"))
        model = ModelVersion.objects.create(
            name=job.output_name,
            kind=ModelVersion.Kind.ADAPTER if adapter else OUTPUT_KIND[job.kind],
            path=result["final_dir"],
            project=job.project,
            parent=job.model_version,
            adapter_of=job.model_version if adapter else None,
            # an adapter says what it was trained as, so a merge gives a model of that kind
            metrics={**{k: v for k, v in result.items() if k not in ("final_dir",)}, "trained_as": job.kind},
            description=f"{job.kind} training job {job.pk} on snapshot {job.snapshot.name}",
            created_by=job.created_by,
        )
        ModelOrigin.objects.create(model=model, snapshot=job.snapshot)
        job.output_model = model
        job.save(update_fields=["output_model"])
        if (scoring := queue_refresh_after_retrain(job=job, model=model)) is not None:
            run.log(
                f"queued scoring job #{scoring.pk}: {model.name} scores the open ranking tasks for the queue"
            )
    step, total = result.get("step", 0), result.get("total_steps", 0)
    if not run.finish(
        JobStatus.DONE,
        line=f"done at step {step}/{total}: registered model version {model.name} (#{model.pk})",
        progress_done=step,
        progress_total=total,
    ):
        raise JobStopped("lost")
