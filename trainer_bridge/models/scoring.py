"""Reward-model scoring: a reward model version scores model answers (candidates), each score kept once."""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from trainer_bridge.models.jobs import Job


class ScoringJob(Job):
    """A reward model (the job's model version) scoring each candidate of a list fixed at the start."""

    class Purpose(models.TextChoices):
        EVALUATION = "evaluation", "the blind evaluations' answers"
        QUEUE = "queue", "the open ranking tasks' answers, for the queue's uncertainty order"

    candidate_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    batch_size = models.PositiveSmallIntegerField(default=16)
    purpose = models.CharField(max_length=12, choices=Purpose.choices, default=Purpose.EVALUATION)


class AnswerScore(models.Model):
    """The score one reward-model version gives one answer; a resumed job finds it and scores it no more."""

    candidate = models.ForeignKey("labeling.Candidate", on_delete=models.CASCADE, related_name="+")
    reward_model = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    score = models.FloatField()
    job = models.ForeignKey(
        ScoringJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="scores"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reward_model", "candidate"], name="answer_score_once"),
        ]
