"""Test data built through the real services: projects' prompts and candidates, rankings, demonstrations,
reviews. Fixtures live in the conftest files; everything a test builds by hand lives here."""

import io
import json
import zlib
from collections.abc import Callable
from typing import Any

from django.db import transaction

from labeling.models import Assignment, Project, Task
from labeling.services.annotations import demonstration_store, demonstration_submit, ranking_submit
from labeling.services.imports import candidates_import, prompts_import
from labeling.services.queue import claim_next_task, locked_assignment
from labeling.services.review import review_create


def jsonl(rows: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(r) + "\n" for r in rows).encode())


def seed_rankings(project: Project, n: int, *, k: int | None = None) -> list[int]:
    """Import n prompts with k candidates each; returns the ranking task ids."""
    k = k or project.k
    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind="ranking",
        stream=jsonl([{"external_id": f"p{i}", "prompt": f"Question number {i}?"} for i in range(n)]),
    )
    candidates_import(
        project=project,
        fmt="jsonl",
        stream=jsonl(
            [
                {
                    "prompt_external_id": f"p{i}",
                    "text": f"Answer {j} to question {i}.",
                    "model": "m",
                    "sample_index": j,
                }
                for i in range(n)
                for j in range(k)
            ]
        ),
    )
    return list(project.tasks.filter(kind="ranking").order_by("id").values_list("id", flat=True))


def seed_demonstrations(project: Project, n: int, *, kind: str = "demonstration") -> None:
    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind=kind,
        stream=jsonl(
            [
                {
                    "external_id": f"d{i}",
                    "messages": [
                        {"role": "user", "content": f"Tell me about topic {i}."},
                        {"role": "assistant", "content": "Which part of it?"},
                        {"role": "user", "content": "The history, briefly."},
                    ],
                }
                for i in range(n)
            ]
        ),
    )


def import_waiting_prompts(project: Project, n: int) -> list[int]:
    """n ranking prompts with no candidate yet; returns their ids."""
    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind="ranking",
        stream=jsonl([{"external_id": f"q{i}", "prompt": f"What is {i} plus {i + 1}?"} for i in range(n)]),
    )
    return list(project.prompts.order_by("pk").values_list("pk", flat=True))


SEARCH_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the corpus.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "what to look for"}},
                "required": ["query"],
            },
        },
    }
]


def import_prompts(project: Project, texts: list[str], kind: str) -> None:
    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind=kind,
        stream=jsonl([{"external_id": f"{kind}-{i}", "prompt": text} for i, text in enumerate(texts)]),
    )


def import_candidates(project: Project, kind_prefix: str, count: int, k: int) -> None:
    candidates_import(
        project=project,
        fmt="jsonl",
        stream=jsonl(
            [
                {
                    "prompt_external_id": f"{kind_prefix}-{i}",
                    "text": f"Answer {j} to prompt {i}: " + "word " * (j + 1),
                    "model": "m",
                    "sample_index": j,
                }
                for i in range(count)
                for j in range(k)
            ]
        ),
    )


def by_text(task: Task) -> list[list[int]]:
    """A strict ranking: candidates ordered by their sample text (so 'Answer 0' is best)."""
    texts = dict(task.prompt.candidates.values_list("id", "text"))
    return [[cid] for cid in sorted(task.candidate_ids, key=lambda cid: texts[cid])]


def rank_all(
    project: Project, labeler: Any, tiers: Callable[[Task], list[list[int]]] = by_text
) -> list[Assignment]:
    """The labeler ranks every task they can get; returns their assignments."""
    done = []
    while (assignment := claim_next_task(project=project, labeler=labeler)) is not None:
        task = Task.objects.select_related("prompt").get(pk=assignment.task_id)
        if task.kind == "ranking":
            ranking_submit(assignment_id=assignment.pk, labeler=labeler, tiers=tiers(task))
        elif task.kind == "search":  # written as a trusted import would, without running the searches
            with transaction.atomic():
                demonstration_store(
                    assignment=locked_assignment(assignment.pk, labeler),
                    messages=reply_for(task),
                    tools=tools_for(task),
                    seconds=0.0,
                    pasted_chars=0,
                )
        else:
            demonstration_submit(
                assignment_id=assignment.pk, labeler=labeler, messages=reply_for(task), tools=tools_for(task)
            )
        done.append(assignment)
    return done


def reply_for(task: Task) -> list[dict[str, Any]]:
    question = task.prompt.messages[-1]["content"]
    if task.kind == "search":
        call = {"type": "function", "function": {"name": "search", "arguments": {"query": question}}}
        return [
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "name": "search", "content": f"Result: a page about {question}"},
            {"role": "assistant", "content": f"According to the page, here is the answer to {question}"},
        ]
    if task.kind == "refusal":
        return [{"role": "assistant", "content": "I don't know the answer to that."}]
    return [{"role": "assistant", "content": f"A careful answer to: {question}"}]


def tools_for(task: Task) -> list[dict[str, Any]] | None:
    return SEARCH_TOOLS if task.kind == "search" else None


def review_all(assignments: list[Assignment], reviewer: Any, verdict: str = "accept") -> None:
    for assignment in assignments:
        reason = "not good enough" if verdict == "reject" else ""
        review_create(assignment_id=assignment.pk, reviewer=reviewer, verdict=verdict, reason=reason)


# --- blind A/B evaluation --------------------------------------------------------------------------


def register_versions(*names: str) -> list[Any]:
    """Model versions as rows only (no directory): enough for planning, importing answers and voting."""
    from registry.models import ModelVersion

    return [
        ModelVersion.objects.create(name=name, kind="base", path=f"/nonexistent/{name}") for name in names
    ]


def import_evaluation_prompts(
    project: Project, n: int, *, sources: tuple[str, ...] = ("chat", "code")
) -> list[int]:
    """n prompts imported as evaluation prompts, alternating sources and categories; returns their ids."""
    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind="evaluation",
        stream=jsonl(
            [
                {
                    "external_id": f"e{i}",
                    "prompt": f"Explain idea number {i} to a newcomer.",
                    "source": sources[i % len(sources)],
                    "metadata": {"category": "easy" if i % 3 else "hard"},
                }
                for i in range(n)
            ]
        ),
    )
    return list(
        project.prompts.filter(external_id__startswith="e").order_by("pk").values_list("pk", flat=True)
    )


def import_answers(project: Project, version_name: str, prompt_ids: list[int]) -> None:
    """One imported answer per prompt that names a registered version, as a team would import them; the
    text differs per version without naming it."""
    from labeling.models import Prompt

    external = dict(Prompt.objects.filter(pk__in=prompt_ids).values_list("pk", "external_id"))
    candidates_import(
        project=project,
        fmt="jsonl",
        stream=jsonl(
            [
                {
                    "prompt_external_id": external[pid],
                    "text": f"Answer {zlib.crc32(version_name.encode()):08x} to prompt {pid}.",
                    "model": version_name,
                }
                for pid in prompt_ids
            ]
        ),
    )


def seed_evaluation(
    project: Project, admin: Any, n: int, names: tuple[str, ...] = ("old", "new")
) -> list[Any]:
    """Versions compared on n evaluation prompts, every answer imported: a task per pair; returns them."""
    from labeling.services.evaluation import evaluation_pairs_plan

    models = register_versions(*names)
    prompt_ids = import_evaluation_prompts(project, n)
    for model in models:
        import_answers(project, model.name, prompt_ids)
    evaluation_pairs_plan(project=project, versions=models, prompt_ids=prompt_ids, user=admin)
    return models


def distinctive_candidate_ids() -> None:
    """Number the next answers from 987651, so an id that leaks into a page or an API answer cannot hide
    among small numbers."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('labeling_candidate', 'id'), 987650)")


def seed_model_drafts(project: Project, admin: Any, texts: list[str]) -> Any:
    """Switch the project's model drafts on with a model version 'drafter', and store its drafts of the
    project's writing prompts (in prompt order) as a finished drafting job would."""
    from labeling.models import Prompt, ReplyDraft
    from labeling.services.model_drafts import reply_draft_settings_set
    from registry.models import ModelVersion

    drafter = ModelVersion.objects.create(name="drafter", kind="base", path="/nowhere")
    reply_draft_settings_set(project=project, user=admin, enabled=True, model_version=drafter)
    prompts = Prompt.objects.filter(project=project, tasks__kind__in=["demonstration", "refusal", "chat"])
    ReplyDraft.objects.bulk_create(
        [
            ReplyDraft(prompt=prompt, model_version=drafter, text=text)
            for prompt, text in zip(prompts.order_by("pk"), texts, strict=False)
        ]
    )
    return drafter


def serve_chat_model(project: Project, admin: Any, server: Any, model_dir: Any, **settings: Any) -> Any:
    """Register the tiny model and the server that answers for it, and point the project's chats at it."""
    from labeling.services.chat import chat_settings_set
    from registry.services import model_register
    from trainer_bridge.services.servers import model_server_check, model_server_register

    version = model_register(path=str(model_dir), name=f"tiny-chat-{project.pk}")
    record = model_server_register(
        project=project, model_version=version, url=server.url, user=admin, served_model_name="tiny-chat"
    )
    model_server_check(server=record)
    settings = {"k": 3, "max_new_tokens": 12, "temperature": 1.0} | settings
    chat_settings_set(project=project, user=admin, model_version=version, **settings)
    return version


def claim_chat(project: Project, labeler: Any, opening: str = "Plan a picnic for four.") -> Assignment:
    """A chat task opened by a system prompt and a user turn, leased to `labeler`."""
    from labeling.services.queue import claim_next_task

    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind="chat",
        stream=jsonl(
            [{"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": opening}]}]
        ),
    )
    assignment = claim_next_task(project=project, labeler=labeler)
    assert assignment is not None and assignment.task.kind == "chat"
    return assignment


def ask_reply(client: Any, url: str, messages: list[dict[str, Any]]) -> Any:
    """POST a chat reply request; a barely trained model sometimes writes nothing (a 503 that says so),
    and then one asks again, as the page tells a labeler to: each call samples with a seed of its own."""
    for _ in range(4):
        answer = client.post(url, {"messages": messages}, format="json")
        if not (answer.status_code == 503 and "wrote nothing" in answer.json()["detail"]):
            return answer
    return answer
