from django.db import models

from trainer_bridge.models.jobs import Job


class MergeJob(Job):
    """A LoRA adapter (the job's model version) merged into its base: the output is a new model version
    that runs alone (generation, serving, scoring)."""

    output_name = models.CharField(max_length=200, blank=True, default="")
    output_dir = models.CharField(max_length=1000, blank=True, default="")
