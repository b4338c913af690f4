from django.db import transaction
from django.db.models import Max

from core.errors import DomainError
from core.types import User
from guidelines.models import Acknowledgement, Guideline, GuidelineVersion


class EmptyGuideline(DomainError):
    code = "empty_guideline"


def guideline_create(*, title: str, body: str = "") -> Guideline:
    return Guideline.objects.create(title=title, draft_body=body)


def guideline_draft_save(*, guideline: Guideline, body: str) -> Guideline:
    guideline.draft_body = body
    guideline.save(update_fields=["draft_body"])
    return guideline


@transaction.atomic
def guideline_publish(
    *, guideline: Guideline, author: User, body: str | None = None, change_note: str = ""
) -> GuidelineVersion:
    """Publish the draft (or `body`) as the next immutable version."""
    guideline = Guideline.objects.select_for_update().get(pk=guideline.pk)
    text = guideline.draft_body if body is None else body
    if not text.strip():
        raise EmptyGuideline("a guideline version needs a body", field="body")
    if body is not None and guideline.draft_body != body:
        guideline.draft_body = body
        guideline.save(update_fields=["draft_body"])
    last = guideline.versions.aggregate(n=Max("number"))["n"] or 0
    return GuidelineVersion.objects.create(
        guideline=guideline, number=last + 1, body=text, change_note=change_note, author=author
    )


def guideline_acknowledge(*, user: User, version: GuidelineVersion) -> Acknowledgement:
    ack, _ = Acknowledgement.objects.get_or_create(user=user, version=version)
    return ack
