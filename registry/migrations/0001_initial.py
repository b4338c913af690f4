"""The model registry moves below labeling: trainer_bridge's ModelVersion table becomes registry's, rows
and ids kept (every foreign key to it keeps pointing at the same rows)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

RENAME = "ALTER TABLE trainer_bridge_modelversion RENAME TO registry_modelversion"
RENAME_BACK = "ALTER TABLE registry_modelversion RENAME TO trainer_bridge_modelversion"


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("labeling", "0003_project_gold_rate"),
        ("trainer_bridge", "0004_model_origin"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(RENAME, RENAME_BACK)],
            state_operations=[
                migrations.CreateModel(
                    name="ModelVersion",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=200, unique=True)),
                        (
                            "kind",
                            models.CharField(
                                choices=[("base", "Base"), ("sft", "Sft"), ("rm", "Rm")], max_length=10
                            ),
                        ),
                        (
                            "path",
                            models.CharField(
                                help_text="a local directory (config, weights, tokenizer)", max_length=1000
                            ),
                        ),
                        ("metrics", models.JSONField(blank=True, default=dict)),
                        ("description", models.TextField(blank=True, default="")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "parent",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="children",
                                to="registry.modelversion",
                            ),
                        ),
                        (
                            "project",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="model_versions",
                                to="labeling.project",
                            ),
                        ),
                    ],
                ),
            ],
        ),
        migrations.AddField(
            model_name="modelversion",
            name="adapter_of",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="adapters",
                to="registry.modelversion",
            ),
        ),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind", "base"), ("parent__isnull", False), _connector="OR"),
                name="trained_model_has_parent",
            ),
        ),
    ]
