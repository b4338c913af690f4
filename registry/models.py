from django.conf import settings
from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    """A model on local disk: a base someone registered, or the output of a training job.

    `parent` is the model it was trained from; walking up the parents, with what each was trained on
    (trainer_bridge's ModelOrigin), reaches every label behind the model.
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
        "labeling.Project", on_delete=models.PROTECT, related_name="model_versions", null=True, blank=True
    )
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="children", null=True, blank=True
    )
    # An adapter (LoRA) is a small set of weights that only runs on top of its base model.
    adapter_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="adapters", null=True, blank=True
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
                condition=Q(kind="base") | Q(parent__isnull=False), name="trained_model_has_parent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def candidate_model_name(self) -> str:
        """The model_name its candidates carry: stable per version, so a retried job hits the unique key."""
        return f"{self.name}@{self.pk}"
