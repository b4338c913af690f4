"""What a trained model learned from moves beside the jobs (ModelOrigin), so the model registry can move
below labeling without a foreign key up to snapshots."""

import django.db.models.deletion
from django.db import migrations, models

COPY = """
INSERT INTO trainer_bridge_modelorigin (model_id, snapshot_id)
SELECT id, snapshot_id FROM trainer_bridge_modelversion WHERE snapshot_id IS NOT NULL
"""
COPY_BACK = """
UPDATE trainer_bridge_modelversion m SET snapshot_id = o.snapshot_id
FROM trainer_bridge_modelorigin o WHERE o.model_id = m.id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0005_snapshot_rows_lz4"),
        ("trainer_bridge", "0003_export_heartbeat"),
    ]

    operations = [
        migrations.CreateModel(
            name="ModelOrigin",
            fields=[
                (
                    "model",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="origin",
                        serialize=False,
                        to="trainer_bridge.modelversion",
                    ),
                ),
                (
                    "snapshot",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="trained_models",
                        to="curation.datasetsnapshot",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(COPY, COPY_BACK),
        migrations.RemoveConstraint(model_name="modelversion", name="trained_model_has_lineage"),
        migrations.RemoveField(model_name="modelversion", name="snapshot"),
    ]
