"""Labeler-quality settings and gold answers; refusal probes and verifiable practice sets."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from labeling.models import Project, Task

User = settings.AUTH_USER_MODEL

__all__ = [
    "GoldAnswer",
    "PracticeProblem",
    "PracticeResult",
    "PracticeRun",
    "PracticeSet",
    "PracticeSolution",
    "ProbeAnswer",
    "ProbeOutcome",
    "ProbeQuestion",
    "ProbeRun",
    "ProbeSet",
    "SamplingStatus",
]


# --- labeler quality -------------------------------------------------------------------------------


class GoldAnswer(models.Model):
    """The reference ranking of a ranking task, against which labelers' accuracy is measured."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="gold_answer")
    tiers = models.JSONField()
    set_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


# --- sampling runs: a model answers every item of a set N times ------------------------------------


class SamplingStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SamplingRun(models.Model):
    """What probe and practice runs share: the model (copied: the run outlives registry edits), progress."""

    Status = SamplingStatus

    model_version_id = models.BigIntegerField(null=True, blank=True)
    model_name = models.CharField(max_length=200)  # answers are stored under this name
    model_path = models.CharField(max_length=1000)
    samples = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(64)])
    max_new_tokens = models.PositiveIntegerField(default=128)
    temperature = models.FloatField(default=1.0)
    seed = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=SamplingStatus.choices, default=SamplingStatus.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


# --- refusal probing -------------------------------------------------------------------------------


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


class ProbeRun(SamplingRun):
    """One model version answering every question of a probe set `samples` times, graded by `judge`."""

    probe_set = models.ForeignKey(ProbeSet, on_delete=models.CASCADE, related_name="runs")
    judge = models.CharField(max_length=200, default="containment")

    class Meta:
        indexes = [models.Index(fields=["probe_set", "-created_at"], name="probe_run_by_set")]


class ProbeAnswer(models.Model):
    run = models.ForeignKey(ProbeRun, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(ProbeQuestion, on_delete=models.CASCADE, related_name="+")
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
    question = models.ForeignKey(ProbeQuestion, on_delete=models.CASCADE, related_name="outcomes")
    correct = models.PositiveSmallIntegerField()
    total = models.PositiveSmallIntegerField()
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    task = models.ForeignKey(Task, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "question"], name="probe_outcome_once")]


# --- verifiable practice sets ----------------------------------------------------------------------


class Verifier(models.TextChoices):
    EXACT = "exact"
    NUMERIC = "numeric"
    REGEX = "regex"
    CHOICE = "choice"


class PracticeSet(models.Model):
    """Problems with a known final answer that a program can check."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="practice_sets")
    name = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

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

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice_set", "line"], name="practice_problem_line")]


class PracticeRun(SamplingRun):
    practice_set = models.ForeignKey(PracticeSet, on_delete=models.CASCADE, related_name="runs")

    class Meta:
        indexes = [models.Index(fields=["practice_set", "-created_at"], name="practice_run_by_set")]


class PracticeSolution(models.Model):
    run = models.ForeignKey(PracticeRun, on_delete=models.CASCADE, related_name="solutions")
    problem = models.ForeignKey(PracticeProblem, on_delete=models.CASCADE, related_name="+")
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
    problem = models.ForeignKey(PracticeProblem, on_delete=models.CASCADE, related_name="results")
    passed = models.PositiveSmallIntegerField()
    total = models.PositiveSmallIntegerField()
    pass_rate = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "problem"], name="practice_result_once")]
