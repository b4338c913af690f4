from django.db import models


class ModelOrigin(models.Model):
    """What a trained model learned from: the lineage from a model version back to its labels.

    A model made by a training job gets one when the job registers it; a model trained elsewhere and
    registered with its snapshot gets one too. Base models have none.
    """

    model = models.OneToOneField(
        "registry.ModelVersion", on_delete=models.CASCADE, primary_key=True, related_name="origin"
    )
    snapshot = models.ForeignKey(
        "curation.DatasetSnapshot", on_delete=models.PROTECT, related_name="trained_models"
    )
