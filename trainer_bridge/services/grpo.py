"""GRPO jobs: reinforcement learning on a practice set, its verifiers as the rewards; the output is a policy.

The policy samples a group of solutions per train problem, each verified against the problem's answer
(curation.verifiers); optionally a reward-model version scores them too, and the job records that
score beside the verifier's so a policy learning to please the reward model rather than to be right
shows as a widening gap. The held-out split of the practice set measures the policy as it trains.
The training itself is trainer_bridge.ml.grpo (TRL's GRPOTrainer), imported inside the run.
"""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from core.errors import Conflict, DomainError
from core.types import User
from curation.models import PracticeProblem, PracticeSet, PracticeSplit
from curation.practice import problem_messages
from labeling.access import require_role
from registry.models import ModelVersion
from trainer_bridge.jobs.lifecycle import JOB_ROLE, JobStopped, Run, job_log
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.ml.config import GRPOSettings
from trainer_bridge.models import GRPOJob, Job, JobStatus, JobType, ModelOrigin
from trainer_bridge.services.run_settings import at_least_one, settings_checked
from trainer_bridge.services.supervised import finite, launch_supervised, progress_record

ALLOWED_BASES = {ModelVersion.Kind.BASE, ModelVersion.Kind.SFT, ModelVersion.Kind.POLICY}
# Small defaults that suit a demo on the CPU; real runs pass their own.
JOB_DEFAULTS: dict[str, Any] = {"max_steps": 50, "eval_every": 10, "checkpoint_every": 10, "patience": 3}
_WHOLE = {"num_generations", "problems_per_step", "max_completion_length", "max_steps", "processes"}
_AT_LEAST_ONE = _WHOLE | {"eval_every", "checkpoint_every", "keep_checkpoints", "processes"}


def grpo_config(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The job's settings, checked against GRPOSettings (output_dir is the job's)."""
    config = settings_checked(raw, GRPOSettings, JOB_DEFAULTS, "GRPO")
    at_least_one(config, _AT_LEAST_ONE)
    if config.get("num_generations", 8) < 2:
        raise DomainError(
            "num_generations must be at least 2: GRPO compares a group's solutions", field="num_generations"
        )
    if config.get("beta", 0.04) <= 0:
        raise DomainError("beta must be above 0, so the policy is kept near its reference", field="beta")
    if config.get("lr", 1.0) <= 0:
        raise DomainError("lr must be above 0", field="lr")
    return config


@transaction.atomic
def grpo_job_start(
    *,
    practice_set: PracticeSet,
    base_model: ModelVersion,
    user: User | None,
    reward_model: ModelVersion | None = None,
    config: dict[str, Any] | None = None,
    output_name: str = "",
) -> GRPOJob:
    """Queue GRPO of `base_model` on the practice set's train split, measured on its held-out split."""
    project = practice_set.project
    if user is not None:
        require_role(user=user, project=project, role=JOB_ROLE)
    if base_model.kind not in ALLOWED_BASES:
        raise DomainError(f"GRPO cannot start from a {base_model.kind} model", field="base_model")
    if base_model.project_id not in (None, project.pk):
        raise DomainError("this model belongs to another project", field="base_model")
    if reward_model is not None:
        if reward_model.kind != ModelVersion.Kind.RM:
            raise DomainError(f"{reward_model.name} is not a reward model", field="reward_model")
        if reward_model.project_id not in (None, project.pk):
            raise DomainError("this reward model belongs to another project", field="reward_model")
    checked = grpo_config(config)
    if not practice_set.problems.filter(split=PracticeSplit.TRAIN).exists():
        raise DomainError(f"practice set {practice_set.name} has no train problems", field="practice_set")
    job = GRPOJob.objects.create(
        type=JobType.GRPO,
        project=project,
        practice_set=practice_set,
        model_version=base_model,
        reward_model=reward_model,
        config=checked,
        progress_total=checked["max_steps"],
        output_name="",
        output_dir="",
        created_by=user,
    )
    name = (output_name or "").strip() or f"{slugify(project.name) or 'project'}-grpo-{job.pk}"
    if ModelVersion.objects.filter(name=name).exists() or GRPOJob.objects.filter(output_name=name).exists():
        raise Conflict(f"a model named {name!r} exists or is being trained", field="output_name")
    job.output_name = name
    job.output_dir = str(Path(settings.MODEL_ROOT) / "grpo" / f"job-{job.pk}-{slugify(name)}")
    job.save(update_fields=["output_name", "output_dir"])
    rm = f", reward model {reward_model.name}" if reward_model is not None else ""
    job_log(
        job, f"queued: GRPO on practice set {practice_set.name} from {base_model.name}{rm}, output {name}"
    )
    job_dispatch(job)
    return job


def practice_rows(practice_set: PracticeSet, split: str) -> list[dict[str, Any]]:
    """The split's problems as GRPO rows: the prompt, and the verifier's ground truth as columns."""
    problems = PracticeProblem.objects.filter(practice_set=practice_set, split=split).order_by("line")
    # the shape of trainer_bridge.ml.grpo.problem_row (that module loads torch; the supervisor does not)
    return [
        {
            "prompt": problem_messages(p),
            "answer": p.answer,
            "verifier": p.verifier,
            "options": json.dumps(p.options),
        }
        for p in problems
    ]


def grpo_work(run: Run, job: GRPOJob) -> None:
    """Run or resume GRPO from its newest checkpoint; a finished one only registers its output."""
    train = practice_rows(job.practice_set, PracticeSplit.TRAIN)
    heldout = practice_rows(job.practice_set, PracticeSplit.VALIDATION)
    run.log(
        f"{len(train)} train and {len(heldout)} held-out problems from practice set {job.practice_set.name}"
    )
    if not heldout:
        run.log(
            "warning: the practice set holds no held-out problems: no pass rate is measured, no early stop"
        )
    cfg = GRPOSettings(output_dir=Path(job.output_dir), **job.config)

    def on_progress(step: int, total: int, metrics: dict[str, Any]) -> None:
        values = progress_record(run, job.pk, step, total, metrics)
        shown = ", ".join(
            f"{key} {values[key]:.4g}"
            for key in ("mean_reward", "heldout_pass_rate", "kl", "response_length", "reward_gap")
            if isinstance(values.get(key), float)
        )
        if step == 0 or "heldout_pass_rate" in values:
            run.log(f"step {step}/{total}: {shown}")

    base = job.model()
    reward_model = job.reward_model.path if job.reward_model is not None else None
    result = launch_supervised(
        run,
        entry="trainer_bridge.ml.grpo_train",
        output_dir=Path(job.output_dir),
        rows={"train": train, "heldout": heldout},
        config={"model_dir": base.path, "reward_model_dir": reward_model},
        cfg=cfg,
        on_progress=on_progress,
        started=f"GRPO from {base.path} into {job.output_dir} on {cfg.processes} process(es) (torchrun)",
    )
    if result.get("resumed_from_step"):
        run.log(f"resumed from the checkpoint at step {result['resumed_from_step']}")
    if result.get("early_stop_step"):
        run.log(
            f"stopped early at step {result['early_stop_step']}: the held-out pass rate stopped improving"
        )
    _register_output(run, job, finite(result))


@transaction.atomic
def _register_output(run: Run, job: GRPOJob, result: dict[str, Any]) -> None:
    """The output policy and the job's end in one transaction: a job is done exactly when its model exists."""
    Job.objects.select_for_update().filter(pk=job.pk).first()
    job = GRPOJob.objects.select_related("model_version", "practice_set").get(pk=job.pk)
    model = job.output_model
    if model is None:
        model = ModelVersion.objects.create(
            name=job.output_name,
            kind=ModelVersion.Kind.POLICY,
            path=result["final_dir"],
            project=job.project,
            parent=job.model_version,
            metrics={k: v for k, v in result.items() if k != "final_dir"},
            description=f"GRPO job {job.pk} on practice set {job.practice_set.name}",
            created_by=job.created_by,
        )
        ModelOrigin.objects.create(model=model, practice_set=job.practice_set)
        job.output_model = model
        job.save(update_fields=["output_model"])
    step, total = result.get("step", 0), result.get("total_steps", 0)
    rate = result.get("heldout_pass_rate")
    shown = f", held-out pass rate {rate:.3f}" if isinstance(rate, float) else ""
    if not run.finish(
        JobStatus.DONE,
        line=f"done at step {step}/{total}{shown}: registered model version {model.name} (#{model.pk})",
        progress_done=step,
        progress_total=total,
    ):
        raise JobStopped("lost")
