"""Best-of-N: a model version answers each prompt N times, a reward model scores the answers, and the best
answer of each prompt is kept as an SFT row of a new frozen snapshot (Llama 3's rejection sampling)."""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from trainer_bridge.models.jobs import Job


class BestOfNJob(Job):
    """`model_version` writes `n` answers per prompt; `reward_model` scores them; the best make `snapshot`."""

    reward_model = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    prompt_filter = models.JSONField(default=dict, blank=True)
    prompt_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    n = models.PositiveSmallIntegerField()
    sampling_params = models.JSONField(default=dict, blank=True)  # max_new_tokens, temperature, top_p
    seed = models.IntegerField(default=0)
    batch_size = models.PositiveSmallIntegerField(default=8)
    engine = models.CharField(max_length=20, default="auto")  # as a generation job's
    snapshot_name = models.CharField(max_length=200)
    validation_fraction = models.FloatField(default=0.1)
    # The frozen snapshot of the kept answers, made when the job ends.
    snapshot = models.OneToOneField(
        "curation.DatasetSnapshot",
        on_delete=models.PROTECT,
        related_name="best_of_n_job",
        null=True,
        blank=True,
    )


class BestOfNSample(models.Model):
    """One of the N answers to a prompt, and its reward once scored; stored once per job, prompt and index."""

    job = models.ForeignKey(BestOfNJob, on_delete=models.CASCADE, related_name="samples")
    prompt = models.ForeignKey("labeling.Prompt", on_delete=models.CASCADE, related_name="+")
    sample_index = models.PositiveSmallIntegerField()
    text = models.TextField()
    score = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "prompt", "sample_index"], name="best_of_n_sample_once")
        ]
