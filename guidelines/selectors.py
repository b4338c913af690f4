from django.db.models import Exists, OuterRef

from core.types import User
from guidelines.diff import Passage, text_diff
from guidelines.models import Acknowledgement, Guideline, GuidelineVersion


def guideline_current_version(*, guideline: Guideline) -> GuidelineVersion | None:
    return guideline.versions.order_by("-number").first()


def guideline_version_pending_for(*, user: User, guideline: Guideline) -> GuidelineVersion | None:
    """The current version when `user` has not acknowledged it yet, else None."""
    acknowledged = Acknowledgement.objects.filter(user=user, version=OuterRef("pk"))
    current = (
        GuidelineVersion.objects.filter(guideline_id=guideline.pk)
        .annotate(acknowledged=Exists(acknowledged))
        .order_by("-number")
        .first()
    )  # one query: the task queue asks this on every claim
    return None if current is None or current.acknowledged else current


def guideline_version_diff(*, old: GuidelineVersion | None, new: GuidelineVersion) -> list[Passage]:
    """What changed from `old` (None: from nothing) to `new`, as readable passages (guidelines.diff)."""
    return text_diff(old.body if old else "", new.body)
