"""Sampling jobs: a model answers every item of a probe set or a practice set N times.

The sets, and the graders and verifiers that judge the answers, are curation's (model-free); the runs
and what they sampled are jobs, here.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from trainer_bridge.models.jobs import Job


class SamplingParams(models.Model):
    """What probe and practice runs share: how many samples, how they are drawn."""

    # The name the answers are stored under (the model version's candidate name).
    model_name = models.CharField(max_length=200)
    samples = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(64)])
    max_new_tokens = models.PositiveIntegerField(default=128)
    temperature = models.FloatField(default=1.0)
    seed = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class ProbeRun(SamplingParams, Job):
    """One model version answering every question of a probe set `samples` times, graded by `judge`."""

    probe_set = models.ForeignKey("curation.ProbeSet", on_delete=models.CASCADE, related_name="runs")
    judge = models.CharField(max_length=200, default="containment")


class ProbeAnswer(models.Model):
    run = models.ForeignKey(ProbeRun, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey("curation.ProbeQuestion", on_delete=models.CASCADE, related_name="+")
    sample_index = models.PositiveSmallIntegerField()
    text = models.TextField()
    correct = models.BooleanField(null=True)  # None until graded

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "question", "sample_index"], name="probe_answer_once")
        ]


class ProbeOutcome(models.Model):
    """A question's grade in one run: consistently wrong ones become refusal tasks."""

    class Verdict(models.TextChoices):
        WRONG = "wrong"  # no sample right: the model does not know; teach it to say so
        RIGHT = "right"  # every sample right: the model knows; a demonstration may reinforce it
        MIXED = "mixed"

    run = models.ForeignKey(ProbeRun, on_delete=models.CASCADE, related_name="outcomes")
    question = models.ForeignKey("curation.ProbeQuestion", on_delete=models.CASCADE, related_name="outcomes")
    correct = models.PositiveSmallIntegerField()
    total = models.PositiveSmallIntegerField()
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    task = models.ForeignKey(
        "labeling.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "question"], name="probe_outcome_once")]


class PracticeRun(SamplingParams, Job):
    """One model version solving every problem of a practice set `samples` times, each checked."""

    practice_set = models.ForeignKey("curation.PracticeSet", on_delete=models.CASCADE, related_name="runs")


class PracticeSolution(models.Model):
    run = models.ForeignKey(PracticeRun, on_delete=models.CASCADE, related_name="solutions")
    problem = models.ForeignKey("curation.PracticeProblem", on_delete=models.CASCADE, related_name="+")
    sample_index = models.PositiveSmallIntegerField()
    text = models.TextField()
    final_answer = models.TextField(blank=True, default="")  # what the verifier read as the answer
    correct = models.BooleanField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "problem", "sample_index"], name="practice_solution_once")
        ]


class PracticeResult(models.Model):
    """A problem's pass rate in one run: its difficulty for that model."""

    run = models.ForeignKey(PracticeRun, on_delete=models.CASCADE, related_name="results")
    problem = models.ForeignKey("curation.PracticeProblem", on_delete=models.CASCADE, related_name="results")
    passed = models.PositiveSmallIntegerField()
    total = models.PositiveSmallIntegerField()
    pass_rate = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "problem"], name="practice_result_once")]
