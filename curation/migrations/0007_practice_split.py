"""A practice set holds a held-out split by problem: each existing set gets seed 0 and a validation
fraction of 0.1, and each of its problems the split those give (what an upload with the defaults gives).

The split is computed here with a frozen copy of `curation.practice.problem_split`, so this migration
keeps giving the same split whatever that function becomes.
"""

import hashlib
import re
import unicodedata

from django.db import migrations, models

SEED, FRACTION = 0, 0.1
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _split(problem: str, seed: int, fraction: float) -> str:
    normalized = _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", problem).casefold()).strip()
    key = hashlib.sha256(normalized.encode()).hexdigest()[:32]
    point = int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") / 2**64
    return "validation" if fraction > 0 and point < fraction else "train"


def split_existing_sets(apps, schema_editor):
    PracticeProblem = apps.get_model("curation", "PracticeProblem")
    problems = list(PracticeProblem.objects.only("id", "problem"))
    for problem in problems:
        problem.split = _split(problem.problem, SEED, FRACTION)
    PracticeProblem.objects.bulk_update(problems, ["split"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("curation", "0006_runs_are_jobs")]

    operations = [
        migrations.AddField(
            model_name="practiceset", name="split_seed", field=models.BigIntegerField(default=SEED)
        ),
        migrations.AddField(
            model_name="practiceset", name="validation_fraction", field=models.FloatField(default=FRACTION)
        ),
        migrations.AddField(
            model_name="practiceproblem",
            name="split",
            field=models.CharField(
                choices=[("train", "Train"), ("validation", "Validation")], default="train", max_length=10
            ),
        ),
        migrations.RunPython(split_existing_sets, migrations.RunPython.noop),
    ]
