"""What a labeler has done so far, saved as they work (a reply being written, a ranking being made), and
the searches of a search-tool task."""

from typing import Any

from django.db import transaction

from core.types import User
from labeling import search
from labeling.models import (
    Assignment,
    Demonstration,
    DemonstrationDraft,
    RankingDraft,
    SearchDocument,
    TaskKind,
)
from labeling.services.annotations import (
    DEMONSTRATION_KINDS,
    InvalidDemonstration,
    InvalidRanking,
    WrongKind,
    demonstration_store,
    seconds_on_task,
    validated_ratings,
)
from labeling.services.model_drafts import model_draft_checked, model_draft_edit_record
from labeling.services.queue import locked_assignment, require_live


def _clean_picks(searches: list[dict[str, Any]], picks: Any) -> list[list[int]]:
    if not isinstance(picks, list):
        return []
    pairs = [
        (p[0], p[1])
        for p in picks
        if isinstance(p, list | tuple) and len(p) == 2 and all(type(x) is int for x in p)
    ]
    return [list(p) for p in search.ordered_picks(searches, pairs)]


@transaction.atomic
def demonstration_draft_save(
    *,
    assignment_id: int,
    labeler: User,
    content: str,
    seconds: float = 0.0,
    pasted_chars: int = 0,
    picks: Any = None,
    model_draft: Any = None,
) -> DemonstrationDraft:
    """Keep what the labeler has written so far; each save replaces the previous one. `model_draft` names
    the model draft the page filled in, kept so that a reload still knows where the text came from."""
    assignment = locked_assignment(assignment_id, labeler)
    if assignment.task.kind not in DEMONSTRATION_KINDS:
        raise WrongKind(f"this is a {assignment.task.kind} task; it takes a ranking", field="kind")
    require_live(assignment)
    started_from = model_draft_checked(task=assignment.task, model_draft=model_draft)
    draft, _ = DemonstrationDraft.objects.get_or_create(assignment=assignment)
    if started_from is not None and draft.model_draft_id is None:
        draft.model_draft = started_from
    draft.content = content
    draft.seconds = seconds_on_task(seconds)
    draft.pasted_chars = max(0, int(pasted_chars))
    if picks is not None:
        draft.picks = _clean_picks(draft.searches, picks)
    draft.save()
    return draft


def placement_board(placement: Any, candidate_ids: list[int]) -> dict[str, int]:
    """The answers placed so far, {candidate id: tier number}, as a draft keeps them (ids as strings)."""
    k = len(candidate_ids)
    if not isinstance(placement, dict) or len(placement) > k:
        raise InvalidRanking(f"place at most the task's {k} answers, each in a tier", field="tiers")
    board: dict[str, int] = {}
    for candidate, tier in placement.items():
        if candidate not in candidate_ids or isinstance(candidate, bool):
            raise InvalidRanking(f"{str(candidate)[:40]!r} is not an answer of this task", field="tiers")
        if isinstance(tier, bool) or tier not in range(1, k + 1):
            raise InvalidRanking(f"a tier is a number from 1 to {k}", field="tiers")
        board[str(candidate)] = tier
    return board


@transaction.atomic
def ranking_draft_save(
    *,
    assignment_id: int,
    labeler: User,
    placement: Any,
    ratings: Any = None,
    all_bad: bool = False,
    seconds: float = 0.0,
) -> RankingDraft:
    """Keep a ranking as it stands: the answers placed so far ({candidate id: tier number}), their ratings
    and flags; each save replaces the previous one, and the submit clears it."""
    assignment = locked_assignment(assignment_id, labeler)
    task = assignment.task
    if task.kind != TaskKind.RANKING:
        raise WrongKind(f"this is a {task.kind} task; it takes a reply, not a ranking", field="kind")
    require_live(assignment)
    draft, _ = RankingDraft.objects.get_or_create(assignment=assignment)
    draft.placement = placement_board(placement, task.candidate_ids)
    draft.ratings = validated_ratings(ratings, task.candidate_ids)
    draft.all_bad = bool(all_bad)
    draft.seconds = seconds_on_task(seconds)
    draft.save()
    return draft


@transaction.atomic
def search_run(*, assignment_id: int, labeler: User, query: str) -> tuple[int, dict[str, Any]]:
    """Run the labeler's query against the project's corpora and keep it, with its results, in the draft."""
    assignment = locked_assignment(assignment_id, labeler)
    if assignment.task.kind != TaskKind.SEARCH:
        raise WrongKind(f"this is a {assignment.task.kind} task, not a search task", field="kind")
    require_live(assignment)
    query = search.clean_query(query)
    results = search.search_documents(project_id=assignment.task.project_id, query=query)
    step = {"query": query, "results": results}
    draft, _ = DemonstrationDraft.objects.get_or_create(assignment=assignment)
    draft.searches = [*draft.searches, step]
    draft.save(update_fields=["searches", "updated_at"])
    return len(draft.searches) - 1, step


@transaction.atomic
def demonstration_draft_submit(
    *,
    assignment_id: int,
    labeler: User,
    content: str,
    seconds: float = 0.0,
    pasted_chars: int = 0,
    picks: Any = None,
    model_draft: Any = None,
) -> tuple[Demonstration, bool]:
    """Submit the labeler's reply; for a search task, with the tool calls and the results they picked.
    A reply that started from a model draft (`model_draft`, or the one its autosave names) records how
    far it moved from it."""
    assignment = locked_assignment(assignment_id, labeler)
    task = assignment.task
    if task.kind not in DEMONSTRATION_KINDS:
        raise WrongKind(f"this is a {task.kind} task; it takes a ranking", field="kind")
    reply: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    started_from = None
    if assignment.state != Assignment.State.SUBMITTED:
        require_live(assignment)
        started_from = model_draft_checked(task=task, model_draft=model_draft)
        if started_from is None:
            saved = DemonstrationDraft.objects.filter(assignment=assignment).select_related("model_draft")
            started_from = next((d.model_draft for d in saved), None)
        if not content.strip():
            raise InvalidDemonstration("write the assistant's reply", field="content")
        reply = [{"role": "assistant", "content": content.strip()}]
        if task.kind == TaskKind.SEARCH:
            draft = DemonstrationDraft.objects.filter(assignment=assignment).first()
            searches = draft.searches if draft else []
            chosen = [(p[0], p[1]) for p in _clean_picks(searches, picks)]
            documents = SearchDocument.objects.filter(
                corpus__project_id=task.project_id, pk__in=[d for _, d in chosen]
            ).in_bulk()
            try:
                reply = search.search_reply(
                    searches=searches, picks=chosen, documents=documents, answer=content
                )
            except search.InvalidSearchReply as exc:
                raise InvalidDemonstration(str(exc), field=exc.field) from None
            tools = [search.SEARCH_TOOL]
    demonstration, created = demonstration_store(
        assignment=assignment, messages=reply, tools=tools, seconds=seconds, pasted_chars=pasted_chars
    )
    if created and started_from is not None:
        model_draft_edit_record(demonstration=demonstration, reply_draft=started_from, labeler=labeler)
    DemonstrationDraft.objects.filter(assignment=assignment).delete()
    return demonstration, created


def search_demonstration_submit(
    *,
    assignment_id: int,
    labeler: User,
    answer: str,
    citations: Any,
    seconds: float = 0.0,
    pasted_chars: int = 0,
) -> tuple[Demonstration, bool]:
    """A search task through the API: the answer cites [1]..[n], the results listed in `citations` as
    [search index, document id] pairs from the searches recorded for this assignment, nothing else."""
    if not isinstance(citations, list) or not citations or len(citations) > search.RESULTS_PER_SEARCH * 20:
        raise InvalidDemonstration("citations is a list of [search, document id] pairs", field="citations")
    pairs = []
    for i, pair in enumerate(citations):
        if not (isinstance(pair, list) and len(pair) == 2 and all(type(x) is int for x in pair)):
            raise InvalidDemonstration(
                f"citations[{i}] must be [search index, document id]", field="citations"
            )
        pairs.append((pair[0], pair[1]))
    with transaction.atomic():
        assignment = locked_assignment(assignment_id, labeler)
        if assignment.task.kind != TaskKind.SEARCH:
            raise WrongKind(f"this is a {assignment.task.kind} task; answer it with messages", field="kind")
        draft = DemonstrationDraft.objects.filter(assignment=assignment).first()
        recorded = search.ordered_picks(draft.searches if draft else [], pairs)
        if assignment.state != Assignment.State.SUBMITTED and len(recorded) != len(set(pairs)):
            unknown = [list(p) for p in pairs if p not in set(recorded)][:5]
            raise InvalidDemonstration(
                f"citations {unknown} are not results of a search recorded for this task", field="citations"
            )
        try:
            return demonstration_draft_submit(
                assignment_id=assignment_id,
                labeler=labeler,
                content=answer,
                seconds=seconds,
                pasted_chars=pasted_chars,
                picks=[list(p) for p in pairs],
            )
        except InvalidDemonstration as exc:  # named as the API names them
            field = {"content": "answer", "picks": "citations"}.get(exc.field or "", exc.field)
            raise InvalidDemonstration(exc.detail, field=field) from None
