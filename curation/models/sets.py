"""Labeler-quality gold answers; refusal probe sets and verifiable practice sets (the runs on them are jobs,
in trainer_bridge)."""

from django.conf import settings
from django.db import models

from labeling.models import Project, Task

User = settings.AUTH_USER_MODEL


class GoldAnswer(models.Model):
    """The reference ranking of a ranking task, against which labelers' accuracy is measured."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="gold_answer")
    tiers = models.JSONField()
    set_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class ProbeSet(models.Model):
    """Questions with reference answers, uploaded to find what a model does not know."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="probe_sets")
    name = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="probe_set_unique_name")]

    def __str__(self) -> str:
        return self.name


class ProbeQuestion(models.Model):
    probe_set = models.ForeignKey(ProbeSet, on_delete=models.CASCADE, related_name="questions")
    line = models.PositiveIntegerField()  # in the uploaded file
    question = models.TextField()
    reference = models.TextField()
    aliases = models.JSONField(default=list, blank=True)  # other accepted answers
    context = models.TextField(blank=True, default="")  # a snippet shown to the model before the question

    class Meta:
        constraints = [models.UniqueConstraint(fields=["probe_set", "line"], name="probe_question_line")]


class Verifier(models.TextChoices):
    EXACT = "exact"
    NUMERIC = "numeric"
    REGEX = "regex"
    CHOICE = "choice"


class PracticeSplit(models.TextChoices):
    TRAIN = "train"
    VALIDATION = "validation"  # held out: what a policy trained on the set is measured on


class PracticeSet(models.Model):
    """Problems with a known final answer that a program can check.

    Each problem has a held-out split, set at upload from (split_seed, the problem's text) and stored
    with it (`curation.practice.problem_split`), so every reading of the set sees the same split.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="practice_sets")
    name = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    split_seed = models.BigIntegerField(default=0)
    validation_fraction = models.FloatField(default=0.1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="practice_set_unique_name")]

    def __str__(self) -> str:
        return self.name


class PracticeProblem(models.Model):
    Verifier = Verifier

    practice_set = models.ForeignKey(PracticeSet, on_delete=models.CASCADE, related_name="problems")
    line = models.PositiveIntegerField()
    problem = models.TextField()
    answer = models.TextField()  # the final answer; a pattern for regex; the right letter for choice
    verifier = models.CharField(max_length=10, choices=Verifier.choices)
    options = models.JSONField(default=dict, blank=True)  # tolerance, relative; choices
    split = models.CharField(max_length=10, choices=PracticeSplit.choices, default=PracticeSplit.TRAIN)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice_set", "line"], name="practice_problem_line")]
