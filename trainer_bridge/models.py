from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django_celery_beat.models import PeriodicTask

from curation.models import DatasetSnapshot
from labeling.models import Project

# --- exports -------------------------------------------------------------------------------------


class ExportJob(models.Model):
    """One export of a snapshot to a file, run by a Celery worker; the web page polls its progress."""

    class Kind(models.TextChoices):
        SFT = "sft"
        RM = "rm"
        PROMPTS = "prompts"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.PROTECT, related_name="export_jobs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    options = models.JSONField(default=dict, blank=True)  # format, split, kinds, mode, by, margin
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_done = models.BigIntegerField(default=0)  # snapshot rows read so far
    rows_total = models.BigIntegerField(default=0)
    rows_written = models.BigIntegerField(default=0)  # lines (or records) in the file
    file_path = models.CharField(max_length=1000, blank=True, default="")
    file_bytes = models.BigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Beaten while a worker runs the export; a running export whose beat stops lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["snapshot", "-created_at"], name="export_job_by_snapshot")]

    @property
    def progress(self) -> float:
        if self.status == self.Status.DONE:
            return 1.0
        return min(1.0, self.rows_done / self.rows_total) if self.rows_total else 0.0


# --- models, generation and training --------------------------------------------------------------


class ModelVersion(models.Model):
    """A model on local disk: a base someone registered, or the output of a training job.

    parent + snapshot are the lineage: walking up the parents and reading each snapshot's rows
    reaches every label that trained the model.
    """

    class Kind(models.TextChoices):
        BASE = "base"
        SFT = "sft"
        RM = "rm"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    path = models.CharField(max_length=1000, help_text="a local directory (config, weights, tokenizer)")
    # None for a base model every project may use
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="model_versions", null=True, blank=True
    )
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="children", null=True, blank=True
    )
    snapshot = models.ForeignKey(
        DatasetSnapshot, on_delete=models.PROTECT, related_name="model_versions", null=True, blank=True
    )
    metrics = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="base") | Q(parent__isnull=False, snapshot__isnull=False),
                name="trained_model_has_lineage",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def candidate_model_name(self) -> str:
        """The model_name its candidates carry: stable per version, so a retried job hits the unique key."""
        return f"{self.name}@{self.pk}"


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Job(models.Model):
    """What every GPU job has: status, progress, a log, and a heartbeat that tells a live run from a dead one.

    A run holds the job through `runner` (a token of its own) while it keeps `heartbeat_at` fresh; a
    RUNNING job whose heartbeat went stale lost its worker and is queued again (trainer_bridge.jobs).
    """

    Status = JobStatus
    ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
    FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
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
        abstract = True

    @property
    def progress(self) -> float:
        if self.status == JobStatus.DONE:
            return 1.0
        return min(1.0, self.progress_done / self.progress_total) if self.progress_total else 0.0

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class GenerationJob(Job):
    """K sampled candidates for each of a fixed list of prompts, from one model version."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="generation_jobs")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="generation_jobs")
    # How the prompts were chosen, and the prompts it gave, fixed when the job was made.
    prompt_filter = models.JSONField(default=dict, blank=True)
    prompt_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    k = models.PositiveSmallIntegerField()
    sampling_params = models.JSONField(default=dict, blank=True)  # max_new_tokens, temperature, top_p
    seed = models.IntegerField(default=0)
    batch_size = models.PositiveSmallIntegerField(default=8)
    candidates_created = models.PositiveIntegerField(default=0)
    ranking_tasks_created = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["project", "-created_at"], name="generation_job_by_project"),
            models.Index(
                fields=["heartbeat_at"], condition=Q(status="running"), name="generation_job_running"
            ),
        ]


class TrainingJob(Job):
    """SFT or reward-model training on a frozen snapshot; its output becomes a new ModelVersion."""

    class Kind(models.TextChoices):
        SFT = "sft"
        RM = "rm"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="training_jobs")
    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.PROTECT, related_name="training_jobs")
    base_model = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="training_jobs")
    config = models.JSONField(default=dict, blank=True)  # hyperparameters (trainer_bridge.ml.config)
    data_options = models.JSONField(default=dict, blank=True)  # SFT: kinds; RM: by labeler or consensus
    output_name = models.CharField(max_length=200)
    output_dir = models.CharField(max_length=1000)
    output_model = models.OneToOneField(
        ModelVersion, on_delete=models.PROTECT, related_name="training_job", null=True, blank=True
    )
    latest_metrics = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "-created_at"], name="training_job_by_project"),
            models.Index(fields=["heartbeat_at"], condition=Q(status="running"), name="training_job_running"),
        ]


class TrainingMetric(models.Model):
    """One report of a training run (train loss, validation loss and accuracy, ...) at a step."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="metric_points")
    step = models.PositiveIntegerField()
    values = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # A resumed run reports a step again: the later report replaces the earlier one.
        constraints = [models.UniqueConstraint(fields=["job", "step"], name="training_metric_per_step")]


class RetrainPolicy(models.Model):
    """Retrain a project's model when enough new accepted labels exist; checked on a beat schedule."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="retrain_policies")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=TrainingJob.Kind.choices)
    base_model = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="retrain_policies")
    min_new_annotations = models.PositiveIntegerField()
    # Exactly one of the two: every N minutes, or a crontab line ("m h dom mon dow", UTC).
    interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    crontab = models.CharField(max_length=100, blank=True, default="")
    training_config = models.JSONField(default=dict, blank=True)
    validation_fraction = models.FloatField(default=0.1)
    enabled = models.BooleanField(default=True)
    periodic_task = models.OneToOneField(
        PeriodicTask, on_delete=models.SET_NULL, related_name="+", null=True, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="retrain_policy_unique_name"),
            models.CheckConstraint(
                condition=(Q(interval_minutes__isnull=False) & Q(crontab=""))
                | (Q(interval_minutes__isnull=True) & ~Q(crontab="")),
                name="retrain_policy_one_schedule",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def schedule_text(self) -> str:
        if self.interval_minutes:
            return f"every {self.interval_minutes} min"
        return f"cron {self.crontab} (UTC)"


class RetrainRun(models.Model):
    """One check of a policy: whether it started a training job, and why or why not."""

    class Outcome(models.TextChoices):
        STARTED = "started"
        SKIPPED = "skipped"
        FAILED = "failed"

    policy = models.ForeignKey(RetrainPolicy, on_delete=models.CASCADE, related_name="runs")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.TextField()
    new_annotations = models.PositiveIntegerField(default=0)
    snapshot = models.ForeignKey(
        DatasetSnapshot, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    training_job = models.OneToOneField(
        TrainingJob, on_delete=models.PROTECT, related_name="retrain_run", null=True, blank=True
    )
    checked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["policy", "-checked_at"], name="retrain_run_by_policy")]
