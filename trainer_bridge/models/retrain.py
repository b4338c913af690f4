from django.conf import settings
from django.db import models
from django.db.models import Q
from django_celery_beat.models import PeriodicTask

from trainer_bridge.models.jobs import TrainingJob


class RetrainPolicy(models.Model):
    """Retrain a project's model when enough new accepted labels exist; checked on a beat schedule."""

    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="retrain_policies")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=TrainingJob.Kind.choices)
    base_model = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="retrain_policies"
    )
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
        "curation.DatasetSnapshot", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    training_job = models.OneToOneField(
        TrainingJob, on_delete=models.PROTECT, related_name="retrain_run", null=True, blank=True
    )
    checked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["policy", "-checked_at"], name="retrain_run_by_policy")]
