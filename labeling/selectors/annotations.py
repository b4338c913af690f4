"""Submitted annotations as rows for the API."""

from typing import Any

from core.types import User
from labeling.models import (
    RATING_FLAGS,
    Demonstration,
    EvaluationVote,
    Project,
    Ranking,
)


def annotations_for(
    *, project: Project, labeler: User | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    """Current revision of every submission in the project (optionally one labeler's), newest first."""
    rankings = Ranking.objects.filter(task__project=project, is_current=True)
    demonstrations = Demonstration.objects.filter(task__project=project, is_current=True)
    if labeler is not None:
        rankings = rankings.filter(assignment__labeler=labeler)
        demonstrations = demonstrations.filter(assignment__labeler=labeler)
    rows: list[dict[str, Any]] = []
    if kind in (None, "ranking"):
        for r in rankings.select_related("assignment").prefetch_related("ratings"):
            rows.append(
                _annotation_row(r, "ranking")
                | {
                    "tiers": r.tiers,
                    "all_bad": r.all_bad,
                    "ratings": [_rating_row(x) for x in r.ratings.all()],
                }
            )
    if kind in (None, "demonstration"):
        for d in demonstrations.select_related("assignment"):
            rows.append(
                _annotation_row(d, "demonstration")
                | {"messages": d.messages, "tools": d.tools, "pasted_chars": d.pasted_chars}
            )
    if kind in (None, "evaluation"):
        votes = EvaluationVote.objects.filter(task__project=project, is_current=True)
        if labeler is not None:
            votes = votes.filter(assignment__labeler=labeler)
        for v in votes.select_related("assignment"):
            rows.append(_annotation_row(v, "evaluation") | {"choice": v.choice, "reason": v.reason})
    return sorted(rows, key=lambda row: row["created_at"], reverse=True)


def _annotation_row(annotation: Ranking | Demonstration | EvaluationVote, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "id": annotation.pk,
        "assignment": annotation.assignment_id,
        "task": annotation.task_id,
        "labeler": annotation.assignment.labeler_id,
        "author": annotation.author_id,
        "revision": annotation.revision,
        "guideline_version": annotation.guideline_version_id,
        "seconds": annotation.seconds,
        "created_at": annotation.created_at,
    }


def _rating_row(rating: Any) -> dict[str, Any]:
    return {"candidate": rating.candidate_id, "overall": rating.overall} | {
        f: getattr(rating, f) for f in RATING_FLAGS
    }
