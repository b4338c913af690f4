"""Frozen, content-hashed snapshots of accepted labels: what every export and training job reads."""

from django.conf import settings
from django.db import models

from labeling.models import Project


class DatasetSnapshot(models.Model):
    """A frozen selection of annotations: immutable rows plus the manifest that says how they were chosen.

    Postgres refuses any UPDATE of a snapshot or of its rows (migration 0002): a snapshot is made once,
    by `curation.snapshots.snapshot_freeze`, and exports of it are byte-identical forever.
    """

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="snapshots")
    name = models.CharField(max_length=200)
    # filters, counts, source annotation ids, guideline versions, split settings, code version, sha256
    manifest = models.JSONField()
    row_count = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    # None when frozen from the command line without naming a user
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="snapshot_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.row_count} rows)"


class SnapshotRow(models.Model):
    """One frozen annotation; `data` is its canonical JSON (sorted keys), exactly the bytes hashed."""

    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveIntegerField()  # rows are ordered by prompt, then task, then assignment
    kind = models.CharField(max_length=20)
    split = models.CharField(max_length=12)
    prompt_id = models.BigIntegerField()  # a copy, not a key: the snapshot outlives edits to the source
    prompt_group = models.CharField(max_length=32)
    annotation_id = models.BigIntegerField()
    data = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "position"], name="snapshot_row_position"),
        ]
