"""Chat tasks: a labeler writes a whole conversation, playing both roles or talking to a served model
version; at any assistant turn K-1 alternatives are sampled and the labeler ranks all K, keeps the best
(edited or not) and the conversation goes on from it.

What is kept, so that nothing is lost: the conversation as it stands (`ChatDraft`, saved on every change
and before every call to the model); each model-written turn as a `ChatTurn` whose prompt is the
conversation prefix (a prompt of its own, marked with its conversation and turn, so it never collides
with an imported prompt of the same text) and whose candidates carry the model version and sampling
parameters that wrote them; each ranked turn as a `Ranking` of its own (keyed by assignment and turn);
and at the submit, the conversation as a `Demonstration`.
"""

import hashlib
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError, NotFound
from core.types import User
from labeling import search
from labeling.access import require_role
from labeling.conversation import MAX_CONTENT_CHARS
from labeling.edits import comparable
from labeling.models import (
    Assignment,
    Candidate,
    ChatCall,
    ChatDraft,
    ChatSettings,
    ChatTurn,
    Demonstration,
    Project,
    Prompt,
    Ranking,
    ReplyDraft,
    Role,
    TaskKind,
)
from labeling.selectors.chat import chat_settings_of
from labeling.services.annotations import (
    WrongKind,
    assignment_complete,
    labeler_guideline_version,
    ranking_store,
    seconds_on_task,
    validate_tiers,
    validated_ratings,
)
from labeling.services.drafts import placement_board
from labeling.services.model_drafts import model_draft_checked, model_draft_edit_record
from labeling.services.queue import locked_assignment, require_live
from registry.client import ChatClient, ServerUnavailable, client_for
from registry.models import ModelVersion
from registry.selectors import server_for

MAX_CHAT_MESSAGES = 100
MAX_CHAT_CHARS = 400_000  # the whole conversation
CHAT_ROLES = ("system", "user", "assistant", "tool")
SOURCE = "chat"  # the source of the prompts that are conversation prefixes


class InvalidConversation(DomainError):
    code = "invalid_conversation"


class ModelUnavailable(DomainError):
    """The model version is not served, or its server did not answer in time: the conversation is kept."""

    status = 503
    code = "model_unavailable"


class TooManyCalls(DomainError):
    status = 429
    code = "too_many_calls"


# --- settings ------------------------------------------------------------------------------------------


def _bounded(value: Any, name: str, low: float, high: float, *, whole: bool = True) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and int(value) != value):
        raise DomainError(f"{name} must be a {'whole ' if whole else ''}number", field=name)
    if not low <= value <= high:
        raise DomainError(f"{name} is between {low:g} and {high:g}", field=name)
    return int(value) if whole else float(value)


@transaction.atomic
def chat_settings_set(
    *,
    project: Project,
    user: User,
    model_version: ModelVersion | None,
    k: Any = 4,
    max_new_tokens: Any = 256,
    temperature: Any = 0.8,
    seconds_limit: Any = 60,
    calls_per_minute: Any = 20,
) -> ChatSettings:
    """Choose the model version chat tasks talk to, K and the bounds on each call (admins)."""
    require_role(user=user, project=project, role=Role.ADMIN)
    if model_version is not None:
        if model_version.kind == ModelVersion.Kind.RM:
            raise DomainError("a reward model scores replies; it does not write them", field="model_version")
        if model_version.project_id not in (None, project.pk):
            raise DomainError("this model belongs to another project", field="model_version")
    settings, _ = ChatSettings.objects.select_for_update().get_or_create(project=project)
    settings.model_version = model_version
    settings.k = _bounded(k, "k", 2, 9)
    settings.max_new_tokens = _bounded(max_new_tokens, "max_new_tokens", 1, 4096)
    settings.temperature = _bounded(temperature, "temperature", 0, 2, whole=False)
    settings.seconds_limit = _bounded(seconds_limit, "seconds_limit", 1, 600)
    settings.calls_per_minute = _bounded(calls_per_minute, "calls_per_minute", 1, 1000)
    settings.save()
    return settings


# --- the conversation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    messages: list[dict[str, Any]]  # HF chat form, as exported
    turns: dict[int, int]  # message index -> the ChatTurn that wrote it (model-written assistant turns)
    # (message index, ReplyDraft id): the assistant's first answer, pre-filled from a model draft
    model_draft: tuple[int, int] | None = None

    def with_turns(self) -> list[dict[str, Any]]:
        """The messages as a draft keeps them: each model-written turn names its ChatTurn, and the answer
        pre-filled from a model draft names it."""
        drafted = {self.model_draft[0]: {"model_draft": self.model_draft[1]}} if self.model_draft else {}
        return [
            m | ({"chat_turn": self.turns[i]} if i in self.turns else {}) | drafted.get(i, {})
            for i, m in enumerate(self.messages)
        ]

    @property
    def assistant_next(self) -> bool:
        """Whether the assistant speaks next: after a user turn, or after a tool's result."""
        return bool(self.messages) and self.messages[-1]["role"] in ("user", "tool")

    @property
    def uses_tools(self) -> bool:
        return any(m["role"] == "tool" for m in self.messages)


def _search_call(message: dict[str, Any], i: int) -> dict[str, Any]:
    """An assistant message that calls the search tool once: {"role", "content": "", "tool_calls"}."""
    calls = message.get("tool_calls")
    call = calls[0] if isinstance(calls, list) and len(calls) == 1 else None
    function = call.get("function") if isinstance(call, dict) else None
    arguments = function.get("arguments") if isinstance(function, dict) else None
    if not (
        isinstance(function, dict)
        and function.get("name") == search.SEARCH_TOOL["function"]["name"]
        and isinstance(call, dict)
        and isinstance(call.get("id"), str)
        and isinstance(arguments, dict)
        and isinstance(arguments.get("query"), str)
        and not (message.get("content") or "").strip()
    ):
        raise InvalidConversation(
            f"message {i}: an assistant's tool call is one call of the search tool, made on the chat page",
            field="messages",
        )
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": call["id"], "type": "function", "function": {"name": "search", "arguments": arguments}}
        ],
    }


def _speaks_after(previous: dict[str, Any] | None) -> str:
    """Who speaks next: the user first and after the assistant's answer, the tool after the assistant's
    call, the assistant after the user and after a tool's result."""
    if previous is None or previous["role"] == "system":
        return "user"
    if previous["role"] == "assistant":
        return "tool" if previous.get("tool_calls") else "user"
    return "assistant"


def validated_conversation(messages: Any, *, ends_with: str | None = None) -> Conversation:
    """A conversation of a chat task: an optional system prompt first, then user and assistant turns in
    turn, user first. In a project with documents to search, the assistant may call the search tool
    before it answers: its call, then the tool's result (which `_checked_tools` matches against the
    searches Coach ran), then the assistant again."""
    if not isinstance(messages, list):
        raise InvalidConversation("messages must be a list of {role, content}", field="messages")
    if len(messages) > MAX_CHAT_MESSAGES:
        raise InvalidConversation(
            f"a conversation holds at most {MAX_CHAT_MESSAGES} messages, not {len(messages)}",
            field="messages",
        )
    clean: list[dict[str, Any]] = []
    turns: dict[int, int] = {}
    model_draft: tuple[int, int] | None = None
    total = 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidConversation(f"message {i} must be an object", field="messages")
        known = {"role", "content", "chat_turn", "model_draft", "tool_calls", "tool_call_id", "name"}
        if unknown := set(message) - known:
            raise InvalidConversation(f"message {i} has unknown keys {sorted(unknown)[:5]}", field="messages")
        role, content = message.get("role"), message.get("content")
        if role not in CHAT_ROLES:
            raise InvalidConversation(
                f"message {i} has role {str(role)[:20]!r}; a chat holds {', '.join(CHAT_ROLES)}",
                field="messages",
            )
        previous = clean[-1] if clean else None
        if role == "system" and i != 0:
            raise InvalidConversation(
                f"message {i}: only the first message may be the system prompt", field="messages"
            )
        if role != "system" and role != (expected := _speaks_after(previous)):
            why = "a tool call is followed by its result" if expected == "tool" else "turns alternate"
            raise InvalidConversation(
                f"message {i} is from the {role}; the {expected} speaks here ({why})", field="messages"
            )
        if role == "assistant" and message.get("tool_calls") is not None:
            clean.append(_search_call(message, i))
            continue
        if role == "tool":
            assert previous is not None
            if not isinstance(content, str) or message.get("tool_call_id") != previous["tool_calls"][0]["id"]:
                raise InvalidConversation(
                    f"message {i}: a tool's result answers the call before it (its tool_call_id)",
                    field="messages",
                )
            clean.append({"role": "tool", "tool_call_id": previous["tool_calls"][0]["id"], "name": "search"})
            clean[-1]["content"] = content
            continue
        if set(message) & {"tool_calls", "tool_call_id", "name"}:
            raise InvalidConversation(
                f"message {i}: only tool calls and their results name a tool", field="messages"
            )
        if not isinstance(content, str) or not content.strip():
            raise InvalidConversation(f"message {i} ({role}) is empty", field="messages")
        if len(content) > MAX_CONTENT_CHARS:
            raise InvalidConversation(
                f"message {i} holds more than {MAX_CONTENT_CHARS:,} characters", field="messages"
            )
        total += len(content)
        if total > MAX_CHAT_CHARS:
            raise InvalidConversation(
                f"the conversation holds more than {MAX_CHAT_CHARS:,} characters", field="messages"
            )
        turn = message.get("chat_turn")
        if turn is not None:
            if role != "assistant" or isinstance(turn, bool) or not isinstance(turn, int):
                raise InvalidConversation(
                    f"message {i}: chat_turn names the model turn of an assistant message", field="messages"
                )
            turns[i] = turn
        if (drafted := message.get("model_draft")) is not None:
            one_id = isinstance(drafted, int) and not isinstance(drafted, bool)
            if role != "assistant" or model_draft is not None or not one_id:
                raise InvalidConversation(
                    f"message {i}: model_draft names the model draft an assistant answer started from",
                    field="messages",
                )
            model_draft = (i, drafted)
        clean.append({"role": role, "content": content})
    conversation = Conversation(clean, turns, model_draft)
    if ends_with == "assistant" and not any(m["role"] == "user" for m in clean):
        raise InvalidConversation("a conversation needs a user turn and an assistant reply", field="messages")
    if ends_with == "assistant" and not (clean and clean[-1]["role"] == "assistant" and clean[-1]["content"]):
        raise InvalidConversation("the last message must be the assistant's reply", field="messages")
    if ends_with == "user" and not conversation.assistant_next:
        raise InvalidConversation(
            "the last message must be from the user (or a tool's result): the assistant answers it",
            field="messages",
        )
    return conversation


def _checked_turns(assignment: Assignment, conversation: Conversation) -> None:
    if not conversation.turns:
        return
    own = set(
        ChatTurn.objects.filter(assignment=assignment, pk__in=list(conversation.turns.values())).values_list(
            "pk", flat=True
        )
    )
    for index, turn in conversation.turns.items():
        if turn not in own:
            raise InvalidConversation(
                f"message {index}: {turn} is not a model turn of this chat", field="messages"
            )


def _checked_tools(assignment: Assignment, conversation: Conversation) -> None:
    """Every tool result is one Coach wrote: the result of a search it ran for this chat, under its call."""
    if not conversation.uses_tools:
        return
    ran = ChatDraft.objects.filter(assignment=assignment).values_list("searches", flat=True).first() or []
    recorded = {(r["id"], r["query"], r["content"]) for r in ran}
    for index, message in enumerate(conversation.messages):
        if message["role"] != "tool":
            continue
        call = conversation.messages[index - 1]["tool_calls"][0]
        if (call["id"], call["function"]["arguments"]["query"], message["content"]) not in recorded:
            raise InvalidConversation(
                f"message {index}: a tool's result is the result of a search run on this chat, unchanged",
                field="messages",
            )


def _checked(assignment: Assignment, conversation: Conversation) -> None:
    """What the page cannot vouch for: the model turns and the model draft it names, and the tools'
    results it holds."""
    _checked_turns(assignment, conversation)
    _checked_tools(assignment, conversation)
    if conversation.model_draft is not None:
        model_draft_checked(task=assignment.task, model_draft=conversation.model_draft[1])


def _chat_assignment(assignment_id: int, labeler: User) -> Assignment:
    assignment = locked_assignment(assignment_id, labeler)
    if assignment.task.kind != TaskKind.CHAT:
        raise WrongKind(f"this is a {assignment.task.kind} task, not a chat task", field="kind")
    return assignment


def _keep(assignment: Assignment, conversation: Conversation, seconds: Any = None) -> ChatDraft:
    draft, _ = ChatDraft.objects.get_or_create(assignment=assignment)
    draft.messages = conversation.with_turns()
    if seconds is not None:
        draft.seconds = seconds_on_task(seconds)
    draft.save()
    return draft


@transaction.atomic
def chat_draft_save(*, assignment_id: int, labeler: User, messages: Any, seconds: Any = 0.0) -> ChatDraft:
    """Keep the conversation as it stands; each save replaces the previous one."""
    assignment = _chat_assignment(assignment_id, labeler)
    require_live(assignment)
    conversation = validated_conversation(messages) if messages else Conversation([], {})
    _checked(assignment, conversation)
    return _keep(assignment, conversation, seconds)


CHAT_SEARCH_RESULTS = 5  # the documents a search returns to the assistant


@transaction.atomic
def chat_search(
    *, assignment_id: int, labeler: User, messages: Any, query: Any, seconds: Any = None
) -> Conversation:
    """The assistant calls the search tool: Coach runs the query over the project's documents, records the
    result, and appends the call and its result to the conversation (then the assistant answers, in the
    labeler's words or the model's)."""
    assignment = _chat_assignment(assignment_id, labeler)
    require_live(assignment)
    conversation = validated_conversation(messages)
    _checked(assignment, conversation)
    if not conversation.assistant_next:
        raise InvalidConversation(
            "the assistant searches before it answers: after a user turn, or after a search's result",
            field="messages",
        )
    if not search.project_has_documents(assignment.task.project_id):
        raise DomainError("this project has no documents to search: an admin uploads them", field="query")
    query = search.clean_query(query if isinstance(query, str) else "")
    found = search.search_documents(project_id=assignment.task.project_id, query=query)
    content = search.tool_result(found[:CHAT_SEARCH_RESULTS])
    draft, _ = ChatDraft.objects.get_or_create(assignment=assignment)
    call_id = f"call_{len(draft.searches) + 1}"
    draft.searches = [*draft.searches, {"id": call_id, "query": query, "content": content}]
    call = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "search", "arguments": {"query": query}}}
        ],
    }
    result = {"role": "tool", "tool_call_id": call_id, "name": "search", "content": content}
    conversation = replace(conversation, messages=[*conversation.messages, call, result])
    draft.messages = conversation.with_turns()
    if seconds is not None:
        draft.seconds = seconds_on_task(seconds)
    draft.save()
    return conversation


# --- calls to the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelCall:
    """What a call to the model needs once the transaction that opened it has committed."""

    turn_id: int
    prefix: list[dict[str, str]]
    model_version_id: int
    model_name: str
    url: str
    served_model_name: str
    api_key_env: str
    sampling: dict[str, Any]
    seconds_limit: int


def _rate_limited(assignment: Assignment, settings: ChatSettings) -> ChatCall:
    since = timezone.now() - timedelta(minutes=1)
    labeler = assignment.labeler_id
    calls = ChatCall.objects.filter(labeler_id=labeler, created_at__gte=since).count()
    if calls >= settings.calls_per_minute:
        raise TooManyCalls(
            f"at most {settings.calls_per_minute} calls to the model a minute: wait a moment and try again",
            field="messages",
        )
    return ChatCall.objects.create(labeler_id=labeler, project_id=assignment.task.project_id)


def _served(project: Project) -> tuple[ChatSettings, Any]:
    settings = chat_settings_of(project)
    if settings.model_version is None:
        raise ModelUnavailable(
            "no model version is chosen for this project's chats: write both roles yourself, or ask an admin",
            field="model_version",
        )
    server = server_for(model_version=settings.model_version)
    if server is None:
        raise ModelUnavailable(
            f"{settings.model_version.name} is not being served right now; your conversation is kept. "
            "Write the reply yourself, or try again later",
            field="model_version",
        )
    return settings, server


def _prefix_prompt(assignment: Assignment, index: int, prefix: list[dict[str, str]]) -> Prompt:
    """The conversation prefix as a prompt of its own: its hash covers the conversation and the turn, so
    an imported prompt of the same text is a different prompt."""
    key = {"chat_assignment": assignment.pk, "turn": index, "messages": prefix}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    prompt, _ = Prompt.objects.get_or_create(
        project_id=assignment.task.project_id,
        content_hash=digest,
        defaults={
            "messages": prefix,
            "source": SOURCE,
            "metadata": {
                "chat": {"assignment": assignment.pk, "task": assignment.task_id, "turn": index},
                "task_kind": TaskKind.CHAT,
            },
        },
    )
    return prompt


def _open_turn(assignment: Assignment, index: int, prefix: list[dict[str, str]]) -> ChatTurn:
    prompt = _prefix_prompt(assignment, index, prefix)
    turn, _ = ChatTurn.objects.get_or_create(assignment=assignment, prompt=prompt, defaults={"turn": index})
    return turn


def _call(turn: ChatTurn, settings: ChatSettings, server: Any, sampling: dict[str, Any]) -> ModelCall:
    version = settings.model_version
    assert version is not None
    return ModelCall(
        turn_id=turn.pk,
        prefix=list(turn.prompt.messages),
        model_version_id=version.pk,
        model_name=version.candidate_model_name,
        url=server.url,
        served_model_name=server.served_model_name,
        api_key_env=server.api_key_env,
        sampling=sampling,
        seconds_limit=settings.seconds_limit,
    )


def chat_reply_begin(*, assignment_id: int, labeler: User, messages: Any, seconds: Any = None) -> ModelCall:
    """Keep the conversation (it ends with the user's turn), check the model's server and the labeler's
    rate, and open the model turn the reply will fill. A refusal is raised once the transaction has
    committed, so the conversation stays saved when the model is not there."""
    refused: DomainError | None = None
    with transaction.atomic():
        assignment = _chat_assignment(assignment_id, labeler)
        require_live(assignment)
        conversation = validated_conversation(messages, ends_with="user")
        _checked(assignment, conversation)
        _keep(assignment, conversation, seconds)
        try:
            settings, server = _served(assignment.task.project)
            counted = _rate_limited(assignment, settings)
        except DomainError as exc:
            refused = exc
        else:
            turn = _open_turn(assignment, len(conversation.messages), conversation.messages)
            # each call its own seed (recorded with the reply), so asking again gives another reply
            sampling = {
                "temperature": settings.temperature,
                "max_tokens": settings.max_new_tokens,
                "seed": counted.pk,
            }
            call = _call(turn, settings, server, sampling)
    if refused is not None:
        raise refused
    return call


_clients: dict[tuple[str, str, str, int], ChatClient] = {}
_clients_lock = threading.Lock()


def _client(call: ModelCall) -> ChatClient:
    """One client per server and time limit in this process: its connections (and the TLS set-up) are
    reused, so a reply's first piece waits on the model, not on Coach."""
    key = (call.url, call.served_model_name, call.api_key_env, call.seconds_limit)
    with _clients_lock:
        if key not in _clients:
            server = _ServerRef(call.url, call.served_model_name, call.api_key_env)
            _clients[key] = client_for(server, timeout=call.seconds_limit, retries=0)
        return _clients[key]


def storable(text: str) -> str:
    """Model text as Postgres stores it: a barely trained model can write NUL, which a text column refuses."""
    return text.replace("\x00", "")


def chat_reply_stream(call: ModelCall) -> Iterator[dict[str, Any]]:
    """The reply as it is written, as events: {"text"} pieces, then {"done", "turn"} once it is stored, or
    {"error"} (the conversation is kept either way). Generation stops at the project's time limit."""
    client = _client(call)
    pieces: list[str] = []
    finish = "stop"
    deadline = time.monotonic() + call.seconds_limit
    try:
        for piece in client.stream(call.prefix, **call.sampling):
            if not (piece := storable(piece)):
                continue
            pieces.append(piece)
            yield {"text": piece}
            if time.monotonic() > deadline:
                finish = "time"
                break
    except ServerUnavailable as exc:
        yield {
            "error": f"The model did not answer: {exc}. "
            "Your conversation is kept; try again or write the reply."
        }
        return
    text = "".join(pieces).strip()
    if not text:
        yield {"error": "The model wrote nothing. Your conversation is kept; try again or write the reply."}
        return
    turn = chat_reply_store(call=call, text=text, finish=finish)
    yield {"done": True, "turn": turn.pk, "text": text, "finish": finish}


@dataclass
class _ServerRef:
    url: str
    served_model_name: str
    api_key_env: str


def _candidate(call: ModelCall, text: str, index: int, sampling: dict[str, Any]) -> Candidate:
    candidate, _ = Candidate.objects.get_or_create(
        prompt_id=ChatTurn.objects.values_list("prompt_id", flat=True).get(pk=call.turn_id),
        model_name=call.model_name,
        sample_index=index,
        defaults={"text": text, "model_version_id": call.model_version_id, "sampling_params": sampling},
    )
    return candidate


@transaction.atomic
def chat_reply_store(*, call: ModelCall, text: str, finish: str) -> ChatTurn:
    """Store a streamed reply as the turn's first candidate and append it to the saved conversation."""
    turn = ChatTurn.objects.select_for_update().select_related("assignment").get(pk=call.turn_id)
    candidate = _candidate(call, text, len(turn.candidate_ids), call.sampling | {"finish": finish})
    if candidate.pk not in turn.candidate_ids:
        turn.candidate_ids = [*turn.candidate_ids, candidate.pk]
    turn.chosen = candidate
    turn.final_text = candidate.text
    turn.save()
    draft = ChatDraft.objects.filter(assignment=turn.assignment).first()
    if draft is not None:
        draft.messages = [
            *draft.messages[: turn.turn],
            {"role": "assistant", "content": candidate.text, "chat_turn": turn.pk},
        ]
        draft.save(update_fields=["messages", "updated_at"])
    return turn


def chat_alternatives_begin(
    *, assignment_id: int, labeler: User, messages: Any, index: Any, seconds: Any = None
) -> tuple[ModelCall, int]:
    """Open the ranking of the assistant turn at `index`: its reply is the first candidate (the model's, or
    the labeler's own words), and K-1 more are to be sampled. Returns the call and how many to sample.
    The conversation is saved first, in a transaction of its own, so it stays when the model is not there."""
    with transaction.atomic():
        assignment = _chat_assignment(assignment_id, labeler)
        require_live(assignment)
        conversation = validated_conversation(messages)
        _checked(assignment, conversation)
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not 0 <= index < len(conversation.messages)
        ):
            raise InvalidConversation("index names a message of the conversation", field="index")
        answered = conversation.messages[index]
        if answered["role"] != "assistant" or answered.get("tool_calls"):
            raise InvalidConversation(f"message {index} is not an assistant turn", field="index")
        kept = {i: t for i, t in conversation.turns.items() if i <= index}
        drafted = conversation.model_draft
        if drafted is not None and drafted[0] > index:
            drafted = None
        conversation = Conversation(conversation.messages[: index + 1], kept, drafted)
        _keep(assignment, conversation, seconds)
    with transaction.atomic():
        assignment = _chat_assignment(assignment_id, labeler)
        settings, server = _served(assignment.task.project)
        turn = _open_turn(assignment, index, conversation.messages[:index])
        if Ranking.objects.filter(chat_turn=turn).exists():
            raise DomainError("this turn is ranked already: change its ranking, or go on", field="index")
        if not turn.candidate_ids:  # the reply on the page is the first candidate
            own = _first_candidate(turn, conversation, index, labeler)
            turn.candidate_ids = [own.pk]
            turn.chosen = own
            turn.final_text = own.text
            turn.save()
            _keep(assignment, replace(conversation, turns=conversation.turns | {index: turn.pk}))
        wanted = settings.k - len(turn.candidate_ids)
        if wanted <= 0:
            return _call(turn, settings, server, {}), 0
        counted = _rate_limited(assignment, settings)
        sampling = {
            "temperature": settings.temperature,
            "max_tokens": settings.max_new_tokens,
            "seed": counted.pk,
        }
        return _call(turn, settings, server, sampling), wanted


def _first_candidate(turn: ChatTurn, conversation: Conversation, index: int, labeler: User) -> Candidate:
    """The reply a turn's ranking starts from: the model draft it was pre-filled with, while unchanged
    (written by the draft's model version), else the labeler's own words."""
    text = conversation.messages[index]["content"]
    if conversation.model_draft and conversation.model_draft[0] == index:
        draft = ReplyDraft.objects.select_related("model_version").get(pk=conversation.model_draft[1])
        if comparable(draft.text) == comparable(text):
            return Candidate.objects.create(
                prompt=turn.prompt,
                text=text,
                model_name=draft.model_version.candidate_model_name,
                model_version=draft.model_version,
                sampling_params=draft.sampling_params | {"model_draft": draft.pk},
                sample_index=0,
            )
    return Candidate.objects.create(
        prompt=turn.prompt,
        text=text,
        model_name=f"written by {labeler.get_username()}",
        sampling_params={"written_by": "labeler"},
        sample_index=0,
    )


def chat_alternatives_sample(*, call: ModelCall, n: int) -> ChatTurn:
    """Sample the alternatives (one request with n, bounded in time) and store them as candidates, shown
    in an order shuffled once so that position says nothing."""
    if n > 0:
        try:
            replies = _client(call).complete(call.prefix, n=n, **call.sampling)
        except ServerUnavailable as exc:
            raise ModelUnavailable(
                f"the model did not answer ({exc}); your conversation is kept, try again",
                field="model_version",
            ) from None
        return _alternatives_store(call, [(storable(r.text), r.finish_reason) for r in replies])
    return ChatTurn.objects.get(pk=call.turn_id)


@transaction.atomic
def _alternatives_store(call: ModelCall, replies: list[tuple[str, str]]) -> ChatTurn:
    turn = ChatTurn.objects.select_for_update().get(pk=call.turn_id)
    start = Candidate.objects.filter(prompt_id=turn.prompt_id, model_name=call.model_name).count()
    added = [
        _candidate(
            call, text or "(no reply)", start + i, call.sampling | {"n": len(replies), "finish": finish}
        )
        for i, (text, finish) in enumerate(replies)
    ]
    ids = [*turn.candidate_ids, *(c.pk for c in added if c.pk not in turn.candidate_ids)]
    random.Random(turn.pk).shuffle(ids)
    turn.candidate_ids = ids
    turn.save(update_fields=["candidate_ids"])
    return turn


def chat_turn_of(*, assignment: Assignment, turn_id: int) -> ChatTurn:
    turn = ChatTurn.objects.select_related("prompt").filter(pk=turn_id, assignment=assignment).first()
    if turn is None:
        raise NotFound("no such turn in this chat")
    return turn


@transaction.atomic
def chat_turn_draft_save(
    *,
    assignment_id: int,
    labeler: User,
    turn_id: int,
    placement: Any,
    ratings: Any = None,
    all_bad: bool = False,
    seconds: Any = 0.0,
) -> ChatTurn:
    """Keep the ranking of a turn's replies as it stands (the replies placed so far, their ratings and
    flags), so a reload finds it; keeping the ranking clears it."""
    assignment = _chat_assignment(assignment_id, labeler)
    require_live(assignment)
    turn = chat_turn_of(assignment=assignment, turn_id=turn_id)
    turn.ranking_draft = {
        "placement": placement_board(placement, turn.candidate_ids),
        "ratings": validated_ratings(ratings, turn.candidate_ids),
        "all_bad": bool(all_bad),
        "seconds": seconds_on_task(seconds),
        "saved_at": timezone.now().isoformat(),
    }
    turn.save(update_fields=["ranking_draft"])
    return turn


@transaction.atomic
def chat_turn_rank(
    *,
    assignment_id: int,
    labeler: User,
    turn_id: int,
    tiers: Any,
    ratings: Any = None,
    all_bad: bool = False,
    seconds: Any = 0.0,
) -> Ranking:
    """Rank the K replies of a turn; the best (the first of the best tier) becomes the turn's reply, the
    conversation goes on from it, and a change of mind before the submit is a new revision."""
    assignment = _chat_assignment(assignment_id, labeler)
    require_live(assignment)
    turn = chat_turn_of(assignment=assignment, turn_id=turn_id)
    if len(turn.candidate_ids) < 2:
        raise DomainError("ask for alternatives before ranking this turn", field="turn")
    if all_bad and not tiers:
        tiers = [list(turn.candidate_ids)]
    tiers = validate_tiers(tiers, turn.candidate_ids)
    previous = Ranking.objects.select_for_update().filter(chat_turn=turn, is_current=True).first()
    ranking = ranking_store(
        assignment=assignment,
        author=labeler,
        tiers=tiers,
        ratings=validated_ratings(ratings, turn.candidate_ids),
        all_bad=bool(all_bad),
        seconds=seconds,
        version=labeler_guideline_version(labeler, assignment.task),
        previous=previous,
        chat_turn=turn,
    )
    best = [cid for cid in turn.candidate_ids if cid in tiers[0]][0]
    chosen = Candidate.objects.get(pk=best)
    turn.chosen = chosen
    turn.final_text = chosen.text
    turn.ranking_draft = None
    turn.save(update_fields=["chosen", "final_text", "ranking_draft"])
    draft, _ = ChatDraft.objects.get_or_create(assignment=assignment)
    draft.messages = [
        *list(turn.prompt.messages),
        {"role": "assistant", "content": chosen.text, "chat_turn": turn.pk},
    ]
    draft.save(update_fields=["messages", "updated_at"])
    return ranking


@transaction.atomic
def chat_submit(
    *, assignment_id: int, labeler: User, messages: Any, seconds: Any = 0.0
) -> tuple[Demonstration, bool]:
    """Record the finished conversation as a demonstration; a retried submit returns the first and counts
    once. Each model turn records where it ended up and what the labeler made of its reply."""
    assignment = _chat_assignment(assignment_id, labeler)
    if assignment.state == Assignment.State.SUBMITTED:
        return Demonstration.objects.get(assignment=assignment, revision=1), False
    require_live(assignment)
    conversation = validated_conversation(messages, ends_with="assistant")
    _checked(assignment, conversation)
    demonstration = Demonstration.objects.create(
        assignment=assignment,
        task=assignment.task,
        author=labeler,
        guideline_version=labeler_guideline_version(labeler, assignment.task),
        messages=conversation.messages,
        tools=[search.SEARCH_TOOL] if conversation.uses_tools else [],
        seconds=seconds_on_task(seconds),
    )
    for index, turn_id in conversation.turns.items():
        ChatTurn.objects.filter(pk=turn_id).update(
            final_index=index, final_text=conversation.messages[index]["content"]
        )
    if conversation.model_draft is not None:
        started_from = model_draft_checked(task=assignment.task, model_draft=conversation.model_draft[1])
        assert started_from is not None
        model_draft_edit_record(demonstration=demonstration, reply_draft=started_from, labeler=labeler)
    assignment_complete(assignment)
    ChatDraft.objects.filter(assignment=assignment).delete()
    return demonstration, True
