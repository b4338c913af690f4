"""The one job family: every piece of background work is a `Job` row (status, progress, heartbeat, log,
metrics, the model versions it used and made) with its own details in a child table.

A run holds its job through `runner` (a token of its own) while it keeps `heartbeat_at` fresh; a
RUNNING job whose heartbeat went stale lost its worker and is queued again (trainer_bridge.jobs).
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from core.errors import DomainError
from registry.models import ModelVersion


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobType(models.TextChoices):
    EXPORT = "export"
    GENERATION = "generation"
    TRAINING = "training"
    PROBE = "probe"
    PRACTICE = "practice"
    SERVING = "serving"
    SCORING = "scoring"
    DRAFTING = "drafting"
    GRPO = "grpo"
    MERGE = "merge"
    BEST_OF_N = "best_of_n"


class Job(models.Model):
    Status = JobStatus
    Type = JobType
    ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
    FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)

    type = models.CharField(max_length=20, choices=JobType.choices)
    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="jobs")
    # The model version the job ran (sampled from, trained from) and the one it made, if any.
    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="jobs", null=True, blank=True
    )
    output_model = models.OneToOneField(
        "registry.ModelVersion",
        on_delete=models.PROTECT,
        related_name="made_by_job",
        null=True,
        blank=True,
    )
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    latest_metrics = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    runner = models.CharField(max_length=64, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "type", "-created_at"], name="job_by_project"),
            models.Index(fields=["heartbeat_at"], condition=Q(status="running"), name="job_running"),
        ]

    def __str__(self) -> str:
        return f"{self.type} job #{self.pk}"

    @property
    def progress(self) -> float:
        if self.status == JobStatus.DONE:
            return 1.0
        return min(1.0, self.progress_done / self.progress_total) if self.progress_total else 0.0

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    def model(self) -> ModelVersion:
        """The model version the job runs; every kind that loads a model names one."""
        if self.model_version is None:
            raise DomainError(f"{self} names no model version to run")
        return self.model_version


class JobMetric(models.Model):
    """One report of a run (train loss, validation accuracy, candidates per second, ...) at a step."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metric_points")
    step = models.PositiveIntegerField()
    values = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # A resumed run reports a step again: the later report replaces the earlier one.
        constraints = [models.UniqueConstraint(fields=["job", "step"], name="job_metric_per_step")]


class ExportJob(Job):
    """One export to a file, of a snapshot or of a practice set (and one of its runs); progress counts
    the snapshot rows or the problems read."""

    class Kind(models.TextChoices):
        SFT = "sft"
        RM = "rm"
        PROMPTS = "prompts"
        PROBLEMS = "problems"  # a practice set's problems with their answers and verifiers

    snapshot = models.ForeignKey(
        "curation.DatasetSnapshot",
        on_delete=models.PROTECT,
        related_name="export_jobs",
        null=True,
        blank=True,
    )
    practice_set = models.ForeignKey(
        "curation.PracticeSet", on_delete=models.PROTECT, related_name="export_jobs", null=True, blank=True
    )
    # The run whose solutions a practice-set export writes (sft, rm), or whose pass rates it adds.
    practice_run = models.ForeignKey(
        "trainer_bridge.PracticeRun", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    options = models.JSONField(default=dict, blank=True)  # format, split, layout, kinds, mode, by, margin
    rows_written = models.BigIntegerField(default=0)  # lines (or records) in the file
    file_path = models.CharField(max_length=1000, blank=True, default="")
    file_bytes = models.BigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["snapshot", "kind"], name="export_job_by_snapshot"),
            models.Index(fields=["practice_set", "kind"], name="export_job_by_practice_set"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(snapshot__isnull=False, practice_set__isnull=True, practice_run__isnull=True)
                | Q(snapshot__isnull=True, practice_set__isnull=False),
                name="export_job_of_a_snapshot_or_a_practice_set",
            )
        ]

    @property
    def source_name(self) -> str:
        """What the export is of, in words."""
        if self.practice_set is not None:
            return f"practice set {self.practice_set.name}"
        assert self.snapshot is not None  # the check constraint: one or the other
        return f"snapshot {self.snapshot.name}"


class GenerationJob(Job):
    """K sampled candidates for each of a fixed list of prompts, from one model version."""

    # How the prompts were chosen, and the prompts it gave, fixed when the job was made.
    prompt_filter = models.JSONField(default=dict, blank=True)
    prompt_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    k = models.PositiveSmallIntegerField()
    sampling_params = models.JSONField(default=dict, blank=True)  # max_new_tokens, temperature, top_p
    seed = models.IntegerField(default=0)
    batch_size = models.PositiveSmallIntegerField(default=8)
    candidates_created = models.PositiveIntegerField(default=0)
    ranking_tasks_created = models.PositiveIntegerField(default=0)
    # auto: the version's model server when one answers, else Coach's loop in the worker; vllm: a vLLM
    # server (the version's, or one the job starts for itself); transformers: Coach's loop in the worker.
    engine = models.CharField(max_length=20, default="auto")


class TrainingJob(Job):
    """SFT, reward-model or DPO training of `model_version` on a frozen snapshot; the output is a new
    version."""

    class Kind(models.TextChoices):
        SFT = "sft"
        RM = "rm"
        DPO = "dpo"  # a policy on the snapshot's preference pairs

    kind = models.CharField(max_length=10, choices=Kind.choices)
    snapshot = models.ForeignKey(
        "curation.DatasetSnapshot", on_delete=models.PROTECT, related_name="training_jobs"
    )
    config = models.JSONField(default=dict, blank=True)  # hyperparameters (trainer_bridge.ml.config)
    data_options = models.JSONField(default=dict, blank=True)  # SFT: kinds; RM, DPO: by labeler or consensus
    output_name = models.CharField(max_length=200)
    output_dir = models.CharField(max_length=1000)

    @property
    def base_model(self) -> ModelVersion | None:
        """The model the job trains from."""
        return self.model_version


class ServingJob(Job):
    """Keeps a model server running for as long as the job runs: stopping the server is cancelling it."""

    server = models.OneToOneField("registry.ModelServer", on_delete=models.PROTECT, related_name="job")


class DraftingJob(Job):
    """A model version's draft reply for each of a fixed list of prompts (labeling.ReplyDraft), written
    ahead of the labelers who start their replies from it."""

    prompt_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    sampling_params = models.JSONField(default=dict, blank=True)  # max_new_tokens, temperature
    seed = models.IntegerField(default=0)
    batch_size = models.PositiveSmallIntegerField(default=8)
    engine = models.CharField(max_length=20, default="auto")  # as a generation job's
    drafts_created = models.PositiveIntegerField(default=0)


class GRPOJob(Job):
    """GRPO of `model_version` on a practice set's train split, its verifiers as the rewards (and,
    optionally, a reward-model version's score beside them); the output is a new policy version."""

    practice_set = models.ForeignKey(
        "curation.PracticeSet", on_delete=models.PROTECT, related_name="grpo_jobs"
    )
    reward_model = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    config = models.JSONField(default=dict, blank=True)  # trainer_bridge.ml.config.GRPOSettings
    output_name = models.CharField(max_length=200)
    output_dir = models.CharField(max_length=1000)
