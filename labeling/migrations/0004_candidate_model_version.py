"""Candidates point at the model version that wrote them; the ones Coach generated before carry its
name as `name@id`, which links them."""

import django.db.models.deletion
from django.db import migrations, models

LINK = """
UPDATE labeling_candidate c SET model_version_id = m.id
FROM registry_modelversion m
WHERE c.model_version_id IS NULL AND c.model_name = m.name || '@' || m.id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0003_project_gold_rate"),
        ("registry", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="candidate",
            name="model_version",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="candidates",
                to="registry.modelversion",
            ),
        ),
        migrations.RunSQL(LINK, migrations.RunSQL.noop),
    ]
