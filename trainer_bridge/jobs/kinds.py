"""Every kind of job: its details model, the function that does its work, and whether it needs a GPU.

The work functions are named by their dotted path and imported only when a worker runs the job, so
the web process never loads the model code behind them.
"""

from dataclasses import dataclass

from labeling.models import Role
from trainer_bridge.models import (
    BestOfNJob,
    DraftingJob,
    ExportJob,
    GenerationJob,
    GRPOJob,
    Job,
    JobType,
    MergeJob,
    PracticeRun,
    ProbeRun,
    ScoringJob,
    ServingJob,
    TrainingJob,
)


@dataclass(frozen=True)
class JobKind:
    model: type[Job]
    work: str  # "module.function", called as work(run, job)
    gpu: bool  # runs a model: goes to the `gpu` queue, one worker per GPU
    label: str
    manage_role: str = Role.ADMIN  # who may start, cancel and retry it
    serves: bool = False  # keeps a model server running: goes to the `serve` queue, one task per server


KINDS: dict[str, JobKind] = {
    # reviewers and admins export a project's data (EXPORT_ROLE), so they also cancel and retry exports
    JobType.EXPORT: JobKind(
        ExportJob, "trainer_bridge.services.exports.export_work", False, "export", Role.REVIEWER
    ),
    JobType.GENERATION: JobKind(
        GenerationJob, "trainer_bridge.services.generation.generation_work", True, "generation"
    ),
    JobType.TRAINING: JobKind(
        TrainingJob, "trainer_bridge.services.training.training_work", True, "training"
    ),
    JobType.PROBE: JobKind(ProbeRun, "trainer_bridge.services.probes.probe_work", True, "refusal probe"),
    JobType.PRACTICE: JobKind(
        PracticeRun, "trainer_bridge.services.practice.practice_work", True, "practice sampling"
    ),
    # --- model drafts ---
    JobType.DRAFTING: JobKind(
        DraftingJob, "trainer_bridge.services.drafting.drafting_work", True, "reply drafting"
    ),
    # --- model servers ---
    JobType.SERVING: JobKind(
        ServingJob, "trainer_bridge.services.servers.serving_work", True, "model server", serves=True
    ),
    JobType.BEST_OF_N: JobKind(
        BestOfNJob, "trainer_bridge.services.best_of_n.best_of_n_work", True, "best-of-N sampling"
    ),
    JobType.GRPO: JobKind(GRPOJob, "trainer_bridge.services.grpo.grpo_work", True, "GRPO"),
    JobType.SCORING: JobKind(
        ScoringJob, "trainer_bridge.services.scoring.scoring_work", True, "reward-model scoring"
    ),
    # --- LoRA adapters ---
    JobType.MERGE: JobKind(MergeJob, "trainer_bridge.services.merging.merge_work", True, "adapter merge"),
}


def detail(job: Job) -> Job:
    """The job as its own kind (GenerationJob, ...), from a plain Job row."""
    model = KINDS[job.type].model
    return job if isinstance(job, model) else model.objects.get(pk=job.pk)
