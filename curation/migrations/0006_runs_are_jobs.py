"""Probe and practice runs, and what they sampled, now live with the other jobs in trainer_bridge (its
migration 0005 copied them); curation keeps the sets, the judges and the verifiers."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0005_snapshot_rows_lz4"),
        ("trainer_bridge", "0005_one_job_family"),
    ]

    operations = [
        migrations.DeleteModel(name="ProbeAnswer"),
        migrations.DeleteModel(name="ProbeOutcome"),
        migrations.DeleteModel(name="PracticeSolution"),
        migrations.DeleteModel(name="PracticeResult"),
        migrations.DeleteModel(name="ProbeRun"),
        migrations.DeleteModel(name="PracticeRun"),
    ]
