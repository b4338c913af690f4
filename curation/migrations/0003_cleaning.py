import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0002_snapshots_are_immutable"),
        ("labeling", "0002_drafts_and_search"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CleaningRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("filters", models.JSONField()),
                ("thresholds", models.JSONField()),
                ("counts", models.JSONField(default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cleaning_runs",
                        to="labeling.project",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="CleaningSettings",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "near_duplicate_threshold",
                    models.FloatField(
                        default=0.8,
                        validators=[
                            django.core.validators.MinValueValidator(0.05),
                            django.core.validators.MaxValueValidator(1.0),
                        ],
                    ),
                ),
                (
                    "keep_rule",
                    models.CharField(
                        choices=[("first", "the earliest member"), ("longest", "the longest member")],
                        default="first",
                        max_length=20,
                    ),
                ),
                ("quality_thresholds", models.JSONField(blank=True, default=dict)),
                (
                    "decontam_long_ngram",
                    models.PositiveSmallIntegerField(
                        default=13,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(100),
                        ],
                    ),
                ),
                (
                    "decontam_short_ngram",
                    models.PositiveSmallIntegerField(
                        default=8,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(100),
                        ],
                    ),
                ),
                (
                    "decontam_short_text_words",
                    models.PositiveIntegerField(
                        default=50, validators=[django.core.validators.MinValueValidator(1)]
                    ),
                ),
                ("phone_region", models.CharField(default="US", max_length=2)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "project",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cleaning_settings",
                        to="labeling.project",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="DuplicateCluster",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "target",
                    models.CharField(
                        choices=[("prompt", "prompt"), ("demonstration", "demonstration")], max_length=20
                    ),
                ),
                ("keep_rule", models.CharField(max_length=20)),
                ("kept_id", models.BigIntegerField()),
                ("member_ids", models.JSONField()),
                ("pairs", models.JSONField()),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="duplicate_clusters",
                        to="labeling.project",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="clusters",
                        to="curation.cleaningrun",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="EvalSet",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200)),
                ("item_count", models.PositiveIntegerField(default=0)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="eval_sets",
                        to="labeling.project",
                    ),
                ),
                (
                    "uploaded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="EvalItem",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("line", models.PositiveIntegerField()),
                ("external_id", models.CharField(blank=True, default="", max_length=200)),
                ("text", models.TextField()),
                (
                    "eval_set",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="items",
                        to="curation.evalset",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="CleaningFlag",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "filter",
                    models.CharField(
                        choices=[
                            ("exact_duplicate", "exact duplicate"),
                            ("near_duplicate", "near duplicate"),
                            ("quality", "quality"),
                            ("pii", "personal data"),
                            ("contamination", "evaluation-set contamination"),
                        ],
                        max_length=20,
                    ),
                ),
                ("name", models.CharField(max_length=60)),
                ("explanation", models.TextField()),
                ("details", models.JSONField(blank=True, default=dict)),
                (
                    "demonstration",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cleaning_flags",
                        to="labeling.demonstration",
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cleaning_flags",
                        to="labeling.project",
                    ),
                ),
                (
                    "prompt",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cleaning_flags",
                        to="labeling.prompt",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="flags",
                        to="curation.cleaningrun",
                    ),
                ),
                (
                    "cluster",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="flags",
                        to="curation.duplicatecluster",
                    ),
                ),
                (
                    "eval_item",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="flags",
                        to="curation.evalitem",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["project", "filter"], name="cleaning_flag_filter"),
                    models.Index(fields=["prompt", "filter"], name="cleaning_flag_prompt"),
                    models.Index(fields=["demonstration", "filter"], name="cleaning_flag_demonstration"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("prompt__isnull", True), ("demonstration__isnull", True), _connector="XOR"
                        ),
                        name="cleaning_flag_one_target",
                    )
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="evalset",
            constraint=models.UniqueConstraint(fields=("project", "name"), name="eval_set_unique_name"),
        ),
    ]
