import hashlib
from collections.abc import Iterator
from typing import Any

import orjson
from django.db.models import Count, QuerySet

from core.errors import NotFound
from curation.models import DatasetSnapshot, SnapshotRow
from labeling.models import Project


class SnapshotNotFound(NotFound):
    code = "snapshot_not_found"


def snapshot_get(*, snapshot_id: int | str) -> DatasetSnapshot:
    """A snapshot by id (or by name when the name is unique over all projects); a clear error if none."""
    snapshots = DatasetSnapshot.objects.select_related("project")
    if isinstance(snapshot_id, int) or str(snapshot_id).isdigit():
        found = snapshots.filter(pk=int(snapshot_id)).first()
    else:
        named = list(snapshots.filter(name=snapshot_id)[:2])
        if len(named) > 1:
            raise SnapshotNotFound(f"several projects have a snapshot named {snapshot_id!r}: use its id")
        found = named[0] if named else None
    if found is None:
        raise SnapshotNotFound(f"there is no snapshot {snapshot_id!r}", field="snapshot")
    if not found.sha256:
        raise SnapshotNotFound(f"snapshot {snapshot_id!r} is still being frozen", field="snapshot")
    return found


def snapshots_for(*, project: Project) -> QuerySet[DatasetSnapshot]:
    return DatasetSnapshot.objects.filter(project=project).exclude(sha256="").order_by("-created_at", "-id")


def _rows(snapshot: DatasetSnapshot, kinds: list[str] | None, split: str | None) -> QuerySet[SnapshotRow]:
    rows = SnapshotRow.objects.filter(snapshot=snapshot)
    if kinds is not None:
        rows = rows.filter(kind__in=kinds)
    if split is not None:
        rows = rows.filter(split=split)
    return rows


def snapshot_row_count(
    *, snapshot: DatasetSnapshot, kinds: list[str] | None = None, split: str | None = None
) -> int:
    return _rows(snapshot, kinds, split).count()


def snapshot_rows_by_split(*, snapshot: DatasetSnapshot, kinds: list[str] | None = None) -> dict[str, int]:
    """Split name → how many rows of these kinds it holds."""
    counts = _rows(snapshot, kinds, None).values("split").annotate(n=Count("id")).order_by("split")
    return {row["split"]: row["n"] for row in counts}


def snapshot_rows(
    *,
    snapshot: DatasetSnapshot,
    kinds: list[str] | None = None,
    split: str | None = None,
    chunk_size: int = 1000,
) -> Iterator[dict[str, Any]]:
    """The rows in their frozen order, streamed from a server-side cursor (run it inside a transaction)."""
    texts = _rows(snapshot, kinds, split).order_by("position").values_list("data", flat=True)
    for text in texts.iterator(chunk_size=chunk_size):
        yield orjson.loads(text)


def snapshot_content_sha256(*, snapshot: DatasetSnapshot) -> str:
    """Recompute the content hash from the stored rows; equal to `snapshot.sha256` unless tampered with."""
    digest = hashlib.sha256()
    texts = SnapshotRow.objects.filter(snapshot=snapshot).order_by("position").values_list("data", flat=True)
    for text in texts.iterator(chunk_size=1000):
        digest.update(text.encode())
        digest.update(b"\n")
    return digest.hexdigest()
