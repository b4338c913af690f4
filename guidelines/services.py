import hashlib

from django.db import transaction
from django.db.models import Max

from core.errors import Conflict, DomainError
from core.types import User
from guidelines.diff import normalized
from guidelines.models import Acknowledgement, Guideline, GuidelineVersion


class EmptyGuideline(DomainError):
    code = "empty_guideline"


def guideline_create(*, title: str, body: str = "") -> Guideline:
    return Guideline.objects.create(title=title, draft_body=normalized(body))


def guideline_draft_save(*, guideline: Guideline, body: str) -> Guideline:
    """Keep the draft, with LF line endings whatever the browser or file sent."""
    guideline.draft_body = normalized(body)
    guideline.save(update_fields=["draft_body"])
    return guideline


def draft_fingerprint(body: str) -> str:
    """Names one draft text, so a confirmation publishes the draft its author read and no later one."""
    return hashlib.sha256(normalized(body).encode()).hexdigest()


def guideline_publish_check(*, body: str, change_note: str) -> None:
    """Refuse what cannot be published: an empty body, or no change note for the labelers to read."""
    if not body.strip():
        raise EmptyGuideline("A guideline version needs a body.", field="body")
    if not change_note.strip():
        raise DomainError(
            "Write a change note: every labeler reads it when asked to acknowledge the new version.",
            field="change_note",
        )


@transaction.atomic
def guideline_publish(
    *,
    guideline: Guideline,
    author: User,
    change_note: str,
    body: str | None = None,
    draft: str | None = None,
) -> GuidelineVersion:
    """Publish the draft (or `body`) as the next immutable version; every labeler must acknowledge it.

    `draft` is the fingerprint of the draft its author confirmed: if the draft changed since, nothing is
    published."""
    guideline = Guideline.objects.select_for_update().get(pk=guideline.pk)
    text = normalized(guideline.draft_body if body is None else body)
    if draft is not None and draft != draft_fingerprint(guideline.draft_body):
        raise Conflict("The draft changed since you confirmed; check what changed again.", field="body")
    guideline_publish_check(body=text, change_note=change_note)
    if body is not None and guideline.draft_body != text:
        guideline.draft_body = text
        guideline.save(update_fields=["draft_body"])
    last = guideline.versions.aggregate(n=Max("number"))["n"] or 0
    return GuidelineVersion.objects.create(
        guideline=guideline, number=last + 1, body=text, change_note=change_note.strip(), author=author
    )


def guideline_acknowledge(*, user: User, version: GuidelineVersion) -> Acknowledgement:
    ack, _ = Acknowledgement.objects.get_or_create(user=user, version=version)
    return ack
