"""What a labeler sees of an assignment: the conversation, the candidates, the draft."""

from dataclasses import dataclass
from typing import Any

from core.errors import NotFound
from core.types import User
from guidelines.models import GuidelineVersion
from labeling import search
from labeling.access import assignment_role
from labeling.models import (
    RATING_FLAGS,
    Assignment,
    Candidate,
    DemonstrationDraft,
    EvaluationDraft,
    Project,
    Ranking,
    RankingDraft,
    ReplyDraft,
    Review,
    SearchDocument,
    Task,
    TaskKind,
)
from labeling.selectors.model_drafts import task_model_draft


def searches_for(*, assignment: Assignment) -> list[dict[str, Any]]:
    """The searches run for an assignment so far, in order, each with its query and results."""
    draft = DemonstrationDraft.objects.filter(assignment=assignment).only("searches").first()
    return draft.searches if draft else []


@dataclass(frozen=True)
class DocumentReading:
    """A whole document as a labeler reads it before citing it, with the words of one search marked."""

    document: SearchDocument
    query: str
    marked: str
    pick: str  # "search:document" when the document is a result of that search, else ""


def search_document_reading(
    *, assignment: Assignment, document_id: int, search_index: int | None
) -> DocumentReading:
    """A document of the assignment's project; `search_index` names the search whose words are marked."""
    document = SearchDocument.objects.filter(
        pk=document_id, corpus__project_id=assignment.task.project_id
    ).first()
    if document is None or assignment.task.kind != TaskKind.SEARCH:
        raise NotFound("no such document in this project's corpora", field="document")
    steps = searches_for(assignment=assignment)
    step = steps[search_index] if search_index is not None and 0 <= search_index < len(steps) else None
    if step is None:
        return DocumentReading(document=document, query="", marked=document.text, pick="")
    found = any(r["id"] == document.pk for r in step["results"])
    return DocumentReading(
        document=document,
        query=step["query"],
        marked=search.document_marked(document=document, query=step["query"]),
        pick=f"{search_index}:{document.pk}" if found else "",
    )


def assignment_payload(*, assignment: Assignment) -> dict[str, Any]:
    """What a labeler needs to work on an assignment: the conversation and, for rankings, the candidates."""
    task = assignment.task  # callers load it with its prompt (select_related("task__prompt"))
    candidates: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    if task.kind == TaskKind.EVALUATION:
        # Blind: the two answers by side only. No candidate id either, since ids follow the order in which
        # each version's answers were stored.
        texts = dict(Candidate.objects.filter(pk__in=task.candidate_ids).values_list("id", "text"))
        answers = [
            {"side": side, "text": texts[cid]} for side, cid in zip(SIDES, task.candidate_ids, strict=True)
        ]
    elif task.candidate_ids:
        texts = dict(Candidate.objects.filter(pk__in=task.candidate_ids).values_list("id", "text"))
        candidates = [{"id": cid, "text": texts[cid]} for cid in task.candidate_ids]
    payload = {
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
        "answers": answers,
        "suggested_reply": task.prompt.metadata.get("suggested_reply", ""),
    }
    if task.kind != TaskKind.EVALUATION:  # blind: nothing of an evaluation task names a model
        payload["model_draft"] = _model_draft_payload(assignment)
    return payload


SIDES = ("left", "right")  # an evaluation task's candidate_ids, in the order they are shown


def _model_draft_payload(assignment: Assignment) -> dict[str, Any] | None:
    """The model draft an active writing task's reply may start from: submit its id with the reply."""
    if assignment.state != Assignment.State.ACTIVE:
        return None
    found = task_model_draft(task=assignment.task)
    if found is None:
        return None
    return {"id": found.pk, "text": found.text, "model_version": found.model_version.name}


@dataclass(frozen=True)
class SubmittedRanking:
    """A labeler's own submitted ranking as it stands now, and whether they may still change it."""

    placement: dict[int, int]
    ratings: list[dict[str, Any]]
    all_bad: bool
    changeable: bool  # no reviewer has looked at it yet


@dataclass
class WorkContext:
    """Everything a labeler's task page shows, read in a fixed number of queries."""

    assignment: Assignment
    task: Task
    project: Project
    role: str
    candidates: list[Candidate]
    draft: DemonstrationDraft | None
    guideline_version: GuidelineVersion | None
    ranking_draft: RankingDraft | None = None
    submitted_ranking: SubmittedRanking | None = None
    evaluation_draft: EvaluationDraft | None = None
    # The model draft the reply starts from: the autosave's, or (before any autosave) the project's
    model_draft: ReplyDraft | None = None


def submitted_ranking(*, assignment: Assignment) -> SubmittedRanking | None:
    """The current revision of a submitted ranking, with its ratings, for its labeler to see and change."""
    ranking = Ranking.objects.filter(assignment=assignment, is_current=True).first()
    if ranking is None:
        return None
    return ranking_as_submitted(ranking, changeable=not Review.objects.filter(assignment=assignment).exists())


def ranking_as_submitted(ranking: Ranking, *, changeable: bool) -> SubmittedRanking:
    ratings = [
        {"candidate": r.candidate_id, "overall": r.overall} | {f: getattr(r, f) for f in RATING_FLAGS}
        for r in ranking.ratings.all()
    ]
    return SubmittedRanking(
        placement={pk: n for n, tier in enumerate(ranking.tiers, start=1) for pk in tier},
        ratings=ratings,
        all_bad=ranking.all_bad,
        changeable=changeable,
    )


def work_context(*, assignment_id: int, user: User) -> WorkContext:
    """A labeler's own assignment; anyone else's is reported as missing."""
    assignment = (
        Assignment.objects.select_related(
            "task__prompt", "task__project", "ranking_draft", "evaluation_draft"
        )
        .filter(pk=assignment_id, labeler_id=user.pk)
        .first()
    )
    if assignment is None:
        raise NotFound("no such assignment")
    task = assignment.task
    project = task.project
    role = assignment_role(user=user, assignment=assignment)
    candidates: list[Candidate] = []
    if task.candidate_ids:
        by_id = Candidate.objects.in_bulk(task.candidate_ids)
        candidates = [by_id[cid] for cid in task.candidate_ids if cid in by_id]
    draft = None
    version = None
    ranking_draft = None
    submitted = None
    if task.kind == TaskKind.RANKING and assignment.state == Assignment.State.ACTIVE:
        try:
            ranking_draft = assignment.ranking_draft  # joined above: no query of its own
        except RankingDraft.DoesNotExist:
            ranking_draft = None
    elif task.kind == TaskKind.RANKING and assignment.state == Assignment.State.SUBMITTED:
        submitted = submitted_ranking(assignment=assignment)
    evaluation_draft = None
    if task.kind == TaskKind.EVALUATION:
        try:
            evaluation_draft = assignment.evaluation_draft  # joined above
        except EvaluationDraft.DoesNotExist:
            evaluation_draft = None
    model_draft = None
    if task.kind != TaskKind.RANKING:
        version = (
            GuidelineVersion.objects.filter(guideline_id=project.guideline_id).order_by("-number").first()
        )
    if task.kind not in (TaskKind.RANKING, TaskKind.EVALUATION, TaskKind.CHAT):
        draft = (
            DemonstrationDraft.objects.filter(assignment=assignment)
            .select_related("model_draft__model_version")
            .first()
        )
        if draft is not None:
            model_draft = draft.model_draft
        elif assignment.state == Assignment.State.ACTIVE:
            model_draft = task_model_draft(task=task)
    return WorkContext(
        assignment=assignment,
        task=task,
        project=project,
        role=role,
        candidates=candidates,
        draft=draft,
        guideline_version=version,
        ranking_draft=ranking_draft,
        submitted_ranking=submitted,
        evaluation_draft=evaluation_draft,
        model_draft=model_draft,
    )
