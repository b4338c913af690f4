"""Cleaning: per-project thresholds, evaluation sets, and what each cleaning run flagged."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from labeling.models import Project


class CleaningFilter(models.TextChoices):
    """The filters a cleaning run applies; each flags rows and says why, none deletes anything."""

    EXACT_DUPLICATE = "exact_duplicate", "exact duplicate"
    NEAR_DUPLICATE = "near_duplicate", "near duplicate"
    QUALITY = "quality", "quality"
    PII = "pii", "personal data"
    CONTAMINATION = "contamination", "evaluation-set contamination"


class KeepRule(models.TextChoices):
    FIRST = "first", "the earliest member"
    LONGEST = "longest", "the longest member"


class CleaningTarget(models.TextChoices):
    PROMPT = "prompt", "prompt"
    DEMONSTRATION = "demonstration", "demonstration"


class CleaningSettings(models.Model):
    """Per-project thresholds of the cleaning filters."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="cleaning_settings")
    near_duplicate_threshold = models.FloatField(
        default=0.8, validators=[MinValueValidator(0.05), MaxValueValidator(1.0)]
    )
    keep_rule = models.CharField(max_length=20, choices=KeepRule.choices, default=KeepRule.FIRST)
    # QualityThresholds.to_dict(); {} means the defaults for chat prompts (curation.cleaning)
    quality_thresholds = models.JSONField(default=dict, blank=True)
    decontam_long_ngram = models.PositiveSmallIntegerField(
        default=13, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    decontam_short_ngram = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    decontam_short_text_words = models.PositiveIntegerField(default=50, validators=[MinValueValidator(1)])
    phone_region = models.CharField(max_length=2, default="US")
    updated_at = models.DateTimeField(auto_now=True)


class EvalSet(models.Model):
    """Evaluation texts that training data must not overlap with."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="eval_sets")
    name = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    item_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="eval_set_unique_name")]

    def __str__(self) -> str:
        return self.name


class EvalItem(models.Model):
    eval_set = models.ForeignKey(EvalSet, on_delete=models.CASCADE, related_name="items")
    line = models.PositiveIntegerField()  # in the uploaded file, for the report
    external_id = models.CharField(max_length=200, blank=True, default="")
    text = models.TextField()


class CleaningRun(models.Model):
    """One pass of some filters over a project; its flags replace that filters' earlier flags."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="cleaning_runs")
    filters = models.JSONField()  # names of the filters run
    thresholds = models.JSONField()  # the settings in force
    counts = models.JSONField(default=dict)  # per filter: prompts and demonstrations flagged
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)


class DuplicateCluster(models.Model):
    """Prompts or demonstrations that are (near) copies of each other; one is kept, the rest flagged."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="duplicate_clusters")
    run = models.ForeignKey(CleaningRun, on_delete=models.CASCADE, related_name="clusters")
    target = models.CharField(max_length=20, choices=CleaningTarget.choices)
    keep_rule = models.CharField(max_length=20)  # a KeepRule, or "admin" once an admin picked the kept one
    kept_id = models.BigIntegerField()
    member_ids = models.JSONField()  # every member, kept one included, ascending
    pairs = models.JSONField()  # confirmed [a, b, jaccard] links (1.0 for exact duplicates)


class CleaningFlag(models.Model):
    """A filter's finding on one prompt or demonstration, with the measured value and a sentence."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="cleaning_flags")
    run = models.ForeignKey(CleaningRun, on_delete=models.CASCADE, related_name="flags")
    filter = models.CharField(max_length=20, choices=CleaningFilter.choices)
    prompt = models.ForeignKey(
        "labeling.Prompt", on_delete=models.CASCADE, null=True, blank=True, related_name="cleaning_flags"
    )
    demonstration = models.ForeignKey(
        "labeling.Demonstration",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="cleaning_flags",
    )
    name = models.CharField(max_length=60)  # the check: too_few_words, EMAIL, near_duplicate, ...
    explanation = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    cluster = models.ForeignKey(
        DuplicateCluster, on_delete=models.CASCADE, null=True, blank=True, related_name="flags"
    )
    eval_item = models.ForeignKey(
        EvalItem, on_delete=models.CASCADE, null=True, blank=True, related_name="flags"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(prompt__isnull=True) ^ Q(demonstration__isnull=True),
                name="cleaning_flag_one_target",
            )
        ]
        indexes = [
            models.Index(fields=["project", "filter"], name="cleaning_flag_filter"),
            models.Index(fields=["prompt", "filter"], name="cleaning_flag_prompt"),
            models.Index(fields=["demonstration", "filter"], name="cleaning_flag_demonstration"),
        ]
