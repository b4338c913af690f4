"""What a labeler has written so far, saved as they type, and the searches of a search-tool task."""

from typing import Any

from django.db import transaction

from core.errors import DomainError
from core.types import User
from labeling import search
from labeling.models import (
    Assignment,
    Demonstration,
    DemonstrationDraft,
    SearchDocument,
    TaskKind,
)
from labeling.services.annotations import (
    DEMONSTRATION_KINDS,
    InvalidDemonstration,
    WrongKind,
    demonstration_submit,
    seconds_on_task,
)
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
) -> DemonstrationDraft:
    """Keep what the labeler has written so far; each save replaces the previous one."""
    assignment = locked_assignment(assignment_id, labeler)
    if assignment.task.kind not in DEMONSTRATION_KINDS:
        raise WrongKind(f"this is a {assignment.task.kind} task; it takes a ranking", field="kind")
    require_live(assignment)
    draft, _ = DemonstrationDraft.objects.get_or_create(assignment=assignment)
    draft.content = content
    draft.seconds = seconds_on_task(seconds)
    draft.pasted_chars = max(0, int(pasted_chars))
    if picks is not None:
        draft.picks = _clean_picks(draft.searches, picks)
    draft.save()
    return draft


@transaction.atomic
def search_run(*, assignment_id: int, labeler: User, query: str) -> tuple[int, dict[str, Any]]:
    """Run the labeler's query against the project's corpora and keep it, with its results, in the draft."""
    assignment = locked_assignment(assignment_id, labeler)
    if assignment.task.kind != TaskKind.SEARCH:
        raise WrongKind(f"this is a {assignment.task.kind} task, not a search task", field="kind")
    require_live(assignment)
    query = " ".join(query.split())
    if not query:
        raise DomainError("write what to search for", field="query")
    if len(query) > search.MAX_QUERY_CHARS:
        raise DomainError(f"a query holds at most {search.MAX_QUERY_CHARS} characters", field="query")
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
) -> tuple[Demonstration, bool]:
    """Submit the labeler's reply; for a search task, with the tool calls and the results they picked."""
    assignment = locked_assignment(assignment_id, labeler)
    task = assignment.task
    if task.kind not in DEMONSTRATION_KINDS:
        raise WrongKind(f"this is a {task.kind} task; it takes a ranking", field="kind")
    reply: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    if assignment.state != Assignment.State.SUBMITTED:
        require_live(assignment)
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
                raise InvalidDemonstration(str(exc), field="picks") from None
            tools = [search.SEARCH_TOOL]
    demonstration, created = demonstration_submit(
        assignment_id=assignment_id,
        labeler=labeler,
        messages=reply,
        tools=tools,
        seconds=seconds_on_task(seconds),
        pasted_chars=pasted_chars,
    )
    DemonstrationDraft.objects.filter(assignment=assignment).delete()
    return demonstration, created
