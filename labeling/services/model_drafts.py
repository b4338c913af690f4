"""Model drafts: a project's switch and model version, and what a labeler's submit records of the draft
their reply started from (the labeler's own autosaved text is `drafts`, a different thing)."""

from typing import Any

from django.db import transaction

from core.errors import DomainError
from core.types import User
from labeling.access import require_role
from labeling.edits import EditDistance, drafted_reply_index
from labeling.models import (
    Demonstration,
    Project,
    ReplyDraft,
    ReplyDraftEdit,
    ReplyDraftSettings,
    Role,
    Task,
    TaskKind,
)
from labeling.selectors.model_drafts import DRAFTED_KINDS
from registry.models import ModelVersion

MAX_DRAFT_TOKENS = 4096


class InvalidModelDraft(DomainError):
    code = "invalid_model_draft"


@transaction.atomic
def reply_draft_settings_set(
    *,
    project: Project,
    user: User,
    enabled: bool,
    model_version: ModelVersion | None,
    max_new_tokens: int = 512,
    temperature: float = 0.7,
) -> ReplyDraftSettings:
    """Switch model drafts on or off for the project's writing tasks, and choose the version that writes
    them (admins). The drafts themselves are written by a drafting job, never when a task is handed out."""
    require_role(user=user, project=project, role=Role.ADMIN)
    if model_version is not None:
        if refusal := model_version.adapter_refusal():
            raise DomainError(refusal, field="model_version")
        if model_version.kind == ModelVersion.Kind.RM:
            raise DomainError("a reward model scores replies; it does not write them", field="model_version")
        if model_version.project_id not in (None, project.pk):
            raise DomainError("this model belongs to another project", field="model_version")
    if enabled and model_version is None:
        raise DomainError("choose the model version that writes the drafts", field="model_version")
    if isinstance(max_new_tokens, bool) or not 1 <= max_new_tokens <= MAX_DRAFT_TOKENS:
        raise DomainError(f"max_new_tokens is between 1 and {MAX_DRAFT_TOKENS}", field="max_new_tokens")
    if not 0 <= temperature <= 2:
        raise DomainError("temperature is between 0 (greedy) and 2", field="temperature")
    settings, _ = ReplyDraftSettings.objects.select_for_update().get_or_create(project=project)
    settings.enabled = bool(enabled)
    settings.model_version = model_version
    settings.max_new_tokens = int(max_new_tokens)
    settings.temperature = float(temperature)
    settings.save()
    return settings


def model_draft_checked(*, task: Task, model_draft: Any) -> ReplyDraft | None:
    """The model draft a submitted reply says it started from: a draft of this task's prompt, or none."""
    if model_draft in (None, ""):
        return None
    if isinstance(model_draft, bool) or not isinstance(model_draft, int):
        raise InvalidModelDraft("model_draft is the id of the model draft shown", field="model_draft")
    if task.kind not in DRAFTED_KINDS:
        raise InvalidModelDraft(f"a {task.kind} task's reply starts from no model draft", field="model_draft")
    found = ReplyDraft.objects.filter(pk=model_draft, prompt_id=task.prompt_id).first()
    if found is None:
        raise InvalidModelDraft(
            f"model draft {model_draft} is not a draft of this task's prompt", field="model_draft"
        )
    return found


def model_draft_edit_record(
    *, demonstration: Demonstration, reply_draft: ReplyDraft, labeler: User
) -> ReplyDraftEdit:
    """Keep the labeler's submitted reply against the draft it started from (inside the submit's
    transaction); a retried submit finds the record it made the first time."""
    messages = demonstration.messages
    reply = messages[drafted_reply_index(messages, chat=demonstration.task.kind == TaskKind.CHAT)]
    final = reply.get("content") or ""
    distance = EditDistance.between(reply_draft.text, final)
    edit, _ = ReplyDraftEdit.objects.get_or_create(
        demonstration=demonstration,
        defaults={
            "reply_draft": reply_draft,
            "labeler": labeler,
            "final_text": final,
            "char_distance": distance.chars,
            "word_distance": distance.words,
            "word_share": distance.word_share,
            "unchanged": distance.unchanged,
        },
    )
    return edit
