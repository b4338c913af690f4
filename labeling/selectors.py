from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet

from labeling.models import RATING_FLAGS, Assignment, Candidate, Demonstration, Project, Ranking, Review, Task


def projects_for(*, user: AbstractBaseUser) -> QuerySet[Project]:
    projects = Project.objects.order_by("name")
    return projects if user.is_staff else projects.filter(memberships__user=user)


def assignment_payload(*, assignment: Assignment) -> dict[str, Any]:
    """What a labeler needs to work on an assignment: the conversation and, for rankings, the candidates."""
    task = Task.objects.select_related("prompt").get(pk=assignment.task_id)
    candidates: list[dict[str, Any]] = []
    if task.candidate_ids:
        texts = dict(Candidate.objects.filter(pk__in=task.candidate_ids).values_list("id", "text"))
        candidates = [{"id": cid, "text": texts[cid]} for cid in task.candidate_ids]
    return {
        "id": assignment.pk,
        "state": assignment.state,
        "lease_expires_at": assignment.lease_expires_at,
        "task": {"id": task.pk, "kind": task.kind, "project": task.project_id},
        "prompt": {
            "id": task.prompt_id,
            "external_id": task.prompt.external_id,
            "messages": task.prompt.messages,
        },
        "candidates": candidates,
    }


def annotations_for(
    *, project: Project, labeler: AbstractBaseUser | None = None, kind: str | None = None
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
    if kind != "ranking":
        for d in demonstrations.select_related("assignment"):
            rows.append(
                _annotation_row(d, "demonstration")
                | {"messages": d.messages, "tools": d.tools, "pasted_chars": d.pasted_chars}
            )
    return sorted(rows, key=lambda row: row["created_at"], reverse=True)


def _annotation_row(annotation: Ranking | Demonstration, kind: str) -> dict[str, Any]:
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


def project_progress(*, project: Project) -> dict[str, int]:
    return Task.objects.filter(project=project).aggregate(
        tasks=Count("id"),
        done=Count("id", filter=Q(status=Task.Status.DONE)),
        open=Count("id", filter=Q(status=Task.Status.OPEN)),
    )


def review_latest_verdicts(*, assignment_ids: list[int]) -> dict[int, str]:
    latest: dict[int, str] = {}
    for assignment_id, verdict in (
        Review.objects.filter(assignment_id__in=assignment_ids)
        .order_by("created_at", "id")
        .values_list("assignment_id", "verdict")
    ):
        latest[assignment_id] = verdict
    return latest
