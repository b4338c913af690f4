from django.db import models
from django.db.models import Q


class ModelOrigin(models.Model):
    """What a trained model learned from: the lineage from a model version back to its labels.

    A model made by a training job gets one when the job registers it; a model trained elsewhere and
    registered with its snapshot gets one too. A policy made by GRPO learned from a practice set (the
    train split of its problems) instead of a snapshot. Base models have none.
    """

    model = models.OneToOneField(
        "registry.ModelVersion", on_delete=models.CASCADE, primary_key=True, related_name="origin"
    )
    snapshot = models.ForeignKey(
        "curation.DatasetSnapshot",
        on_delete=models.PROTECT,
        related_name="trained_models",
        null=True,
        blank=True,
    )
    practice_set = models.ForeignKey(
        "curation.PracticeSet",
        on_delete=models.PROTECT,
        related_name="trained_models",
        null=True,
        blank=True,
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(snapshot__isnull=False, practice_set__isnull=True)
                | Q(snapshot__isnull=True, practice_set__isnull=False),
                name="model_origin_snapshot_or_practice_set",
            )
        ]
