"""An export job is of a snapshot or of a practice set (and optionally one of its runs): the snapshot may
be empty now, and a check keeps exactly one source. Existing jobs are all of snapshots and stay as they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0007_practice_split"),
        ("trainer_bridge", "0005_one_job_family"),
    ]

    operations = [
        migrations.AddField(
            model_name="exportjob",
            name="practice_run",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="trainer_bridge.practicerun",
            ),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="practice_set",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="export_jobs",
                to="curation.practiceset",
            ),
        ),
        migrations.AlterField(
            model_name="exportjob",
            name="kind",
            field=models.CharField(
                choices=[("sft", "Sft"), ("rm", "Rm"), ("prompts", "Prompts"), ("problems", "Problems")],
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="exportjob",
            name="snapshot",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="export_jobs",
                to="curation.datasetsnapshot",
            ),
        ),
        migrations.AddIndex(
            model_name="exportjob",
            index=models.Index(fields=["practice_set", "kind"], name="export_job_by_practice_set"),
        ),
        migrations.AddConstraint(
            model_name="exportjob",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("practice_run__isnull", True),
                        ("practice_set__isnull", True),
                        ("snapshot__isnull", False),
                    ),
                    models.Q(("practice_set__isnull", False), ("snapshot__isnull", True)),
                    _connector="OR",
                ),
                name="export_job_of_a_snapshot_or_a_practice_set",
            ),
        ),
    ]
