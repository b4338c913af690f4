"""Reads of cleaning: the settings in force, the documents a run reads, the current flags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet

from curation.cleaning.text_quality import QualityThresholds
from curation.models import CleaningFilter, CleaningFlag, CleaningRun, CleaningSettings
from labeling.models import Demonstration, Project, Prompt, TaskKind

# Gopher's limits were set for web pages; chat prompts are short, so the length and stop-word checks
# are relaxed. A project's own thresholds, when set, replace these whole.
CHAT_QUALITY_DEFAULTS = QualityThresholds(min_words=2, min_stop_words=None, min_alpha_word_fraction=0.5)


@dataclass(frozen=True)
class Document:
    """A prompt or demonstration as the filters see it: its id and its text."""

    id: int
    text: str


def cleaning_settings_get(*, project: Project) -> CleaningSettings:
    settings, _ = CleaningSettings.objects.get_or_create(project=project)
    return settings


def quality_thresholds_for(settings: CleaningSettings) -> QualityThresholds:
    if not settings.quality_thresholds:
        return CHAT_QUALITY_DEFAULTS
    return QualityThresholds.from_dict(settings.quality_thresholds)


def message_text(messages: list[dict[str, Any]], roles: Sequence[str]) -> str:
    return "\n".join(m.get("content") or "" for m in messages if m.get("role") in roles)


def prompt_documents(project: Project) -> list[Document]:
    """Every prompt's system and user turns, oldest first (so the "first" keep rule keeps the oldest)."""
    rows = Prompt.objects.filter(project=project).order_by("id").values_list("id", "messages")
    return [Document(pk, message_text(messages, ("system", "user"))) for pk, messages in rows.iterator()]


def demonstration_documents(project: Project) -> list[Document]:
    """The assistant turns of every current demonstration revision, oldest first; of a chat, every turn
    (its labeler wrote the user's turns too)."""
    rows = (
        Demonstration.objects.filter(task__project=project, is_current=True)
        .order_by("id")
        .values_list("id", "messages", "task__kind")
    )
    return [
        Document(pk, message_text(messages, CHAT_ROLES if kind == TaskKind.CHAT else ("assistant",)))
        for pk, messages, kind in rows.iterator()
    ]


CHAT_ROLES = ("system", "user", "assistant")


def current_flags(*, project: Project, filters: Sequence[str] | None = None) -> QuerySet[CleaningFlag]:
    flags = CleaningFlag.objects.filter(project=project)
    if filters is not None:
        flags = flags.filter(filter__in=filters)
    return flags.select_related("run", "eval_item__eval_set").order_by(
        "filter", "prompt_id", "demonstration_id", "id"
    )


def latest_run(*, project: Project) -> CleaningRun | None:
    return CleaningRun.objects.filter(project=project).order_by("-created_at", "-id").first()


def flag_counts(*, project: Project) -> dict[str, dict[str, int]]:
    """Per filter: how many prompts and demonstrations its current flags cover."""
    counts = {f: {"prompts": 0, "demonstrations": 0} for f in CleaningFilter.values}
    for row in (
        CleaningFlag.objects.filter(project=project)
        .values("filter")
        .annotate(
            prompts=Count("prompt", distinct=True), demonstrations=Count("demonstration", distinct=True)
        )
    ):
        counts[row["filter"]] = {"prompts": row["prompts"], "demonstrations": row["demonstrations"]}
    return counts
