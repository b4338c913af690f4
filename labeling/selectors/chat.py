"""Reads of chat tasks: the project's chat settings, where a conversation starts, what its page shows."""

from datetime import datetime
from typing import Any

from django.urls import reverse

from labeling.models import (
    Assignment,
    ChatDraft,
    ChatSettings,
    ChatTurn,
    Project,
    Ranking,
    RankingDraft,
    ReplyDraft,
)
from labeling.search import project_has_documents
from labeling.selectors.model_drafts import task_model_draft
from labeling.selectors.work import SubmittedRanking, ranking_as_submitted
from registry.selectors import server_for

CHAT_ROLES = ("system", "user", "assistant")
# What the page keeps of each message besides the model turn it names
PAGE_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name", "model_draft")


def chat_turn_board(turn: ChatTurn) -> tuple[RankingDraft | None, SubmittedRanking | None]:
    """Where the ranking of a turn's replies stands: its draft (as a RankingDraft, unsaved), else the
    ranking kept for it, shown again when the labeler changes their mind."""
    if (saved := turn.ranking_draft) is not None:
        draft = RankingDraft(
            placement=saved["placement"],
            ratings=saved["ratings"],
            all_bad=saved["all_bad"],
            seconds=saved["seconds"],
            updated_at=datetime.fromisoformat(saved["saved_at"]),
        )
        return draft, None
    ranking = Ranking.objects.filter(chat_turn=turn, is_current=True).first()
    return None, None if ranking is None else ranking_as_submitted(ranking, changeable=True)


def chat_settings_of(project: Project) -> ChatSettings:
    """The project's chat settings; the defaults (no model) when an admin has not set them."""
    found = ChatSettings.objects.select_related("model_version").filter(project=project).first()
    return found or ChatSettings(project=project)


def chat_opening(assignment: Assignment) -> tuple[list[dict[str, Any]], float]:
    """Where a conversation stands: the labeler's saved draft, else the task's prompt (a system prompt
    and a first user turn, as imported); and the seconds spent on it."""
    draft = ChatDraft.objects.filter(assignment=assignment).first()
    if draft is not None:
        return list(draft.messages), draft.seconds
    opening = [
        {"role": m["role"], "content": m.get("content") or ""}
        for m in assignment.task.prompt.messages
        if m.get("role") in CHAT_ROLES
    ]
    # With the project's model drafts on, the assistant's first answer starts from the draft a drafting
    # job wrote for the opening (never sampled here: the page reads it with one query).
    written = task_model_draft(task=assignment.task) if opening and opening[-1]["role"] == "user" else None
    if written is not None and written.text.strip():
        opening.append({"role": "assistant", "content": written.text, "model_draft": written.pk})
    return opening, 0.0


def chat_page_context(assignment: Assignment, *, live: bool) -> dict[str, Any]:
    """The conversation for the page's script (as JSON data, never as markup), each model turn with how
    many replies it holds and whether they are ranked, and what the model can do."""
    messages, seconds = chat_opening(assignment)
    turn_ids = [m["chat_turn"] for m in messages if isinstance(m.get("chat_turn"), int)]
    turns = {t.pk: t for t in ChatTurn.objects.filter(assignment=assignment, pk__in=turn_ids)}
    ranked = set(
        Ranking.objects.filter(chat_turn_id__in=turn_ids, is_current=True).values_list(
            "chat_turn_id", flat=True
        )
    )
    drafted = [m["model_draft"] for m in messages if isinstance(m.get("model_draft"), int)]
    drafts = dict(ReplyDraft.objects.filter(pk__in=drafted).values_list("pk", "text")) if drafted else {}
    shown = []
    for m in messages:
        turn = turns.get(m.get("chat_turn"))  # type: ignore[arg-type]
        entry = {k: m[k] for k in PAGE_KEYS if k in m}
        if "model_draft" in m:
            entry["draft_text"] = drafts.get(m["model_draft"], "")
        if turn is not None:
            entry |= {
                "chat_turn": turn.pk,
                "replies": len(turn.candidate_ids),
                "ranked": turn.pk in ranked,
                "chosen_text": turn.final_text,
                "rank_url": reverse("labeling:chat-rank", args=[assignment.pk, turn.pk]),
            }
        shown.append(entry)
    settings = chat_settings_of(assignment.task.project)
    version = settings.model_version
    served = version is not None and server_for(model_version=version) is not None
    searchable = project_has_documents(assignment.task.project_id)
    return {
        "chat": {
            "messages": shown,
            "model": version.name if version else "",
            "served": served,
            "k": settings.k,
            "urls": {
                "draft": reverse("labeling:chat-draft", args=[assignment.pk]),
                "submit": reverse("labeling:chat-submit", args=[assignment.pk]),
                "reply": reverse("labeling:chat-reply", args=[assignment.pk]),
                "alternatives": reverse("labeling:chat-alternatives", args=[assignment.pk]),
                "search": reverse("labeling:chat-search", args=[assignment.pk]),
            },
            "search": searchable,
            "live": live,
        },
        "chat_model": version.name if version else "",
        "chat_served": served,
        "chat_k": settings.k,
        "chat_search": searchable,
        "seconds": str(round(seconds)),
    }
