import io
import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from core.commands import DomainCommand
from guidelines.services import guideline_acknowledge, guideline_publish
from labeling.models import Project, SearchCorpus
from labeling.services.corpora import corpus_upload
from labeling.services.imports import candidates_import, prompts_import
from labeling.services.projects import membership_set, project_create

DEMO = Path(__file__).resolve().parents[2] / "demo"
PROJECT = "Helpful answers (demo)"
SEARCH_PROJECT = "Answers with sources (demo)"
SEARCH_CORPUS = "Demo handbook"
CHAT_PROJECT = "Conversations (demo)"
USERS = [
    ("admin", "admin", True),
    ("reviewer", "reviewer", False),
    ("lena", "labeler", False),
    ("omar", "labeler", False),
]
GUIDELINE = """# Ranking helpful answers

Rank every answer from best to worst. Put answers of equal quality in the same tier.

1. **Helpful**: does it do what the user asked, at the length they need?
2. **Honest**: is it true? An honest "I don't know" beats a confident wrong answer.
3. **Harmless**: would following it hurt the user or anyone else?

Rate each answer from 1 (useless or harmful) to 7 (could not be better), and tick every flag that applies.
When every answer is bad, say so with *All answers are bad*.

## Demonstrations

Write the answer you would want the best assistant to give: correct, direct, and kind.
"""


SEARCH_GUIDELINE = """# Answers with sources

The assistant answers with a search tool over the team's handbook. Show it how.

## Searching

1. Search the way the assistant would: a few words about what the user asked. Documents holding more
   of your words come first; put "a phrase" in quotes when the words must stay together.
2. Open the results that look useful with *Read in full* before you rely on them.
3. Tick only the results the assistant really needs. They are numbered in the order it reads them.

## Writing the answer

Answer the user's question in a few sentences, in your own words, and cite each fact with the number
of the result it came from, as [1] or [2]. When the handbook does not answer the question, say so.
"""

CHAT_GUIDELINE = """# Conversations

Write the whole conversation: the user's turns as a real person would type them, and the assistant's
replies as the best assistant would give them. Keep going for three or four turns.

- Edit the opening if it reads oddly; remove a turn with *Remove*.
- The assistant may search the handbook before it answers: write what it searches for, read the results
  Coach puts in the conversation, and answer from them.
- When an admin has chosen a model for these chats, ask it for a reply, or for several to rank, and edit
  the best one until it is right.
"""


class Command(DomainCommand):
    help = (
        "Seed the demo: users; a project with ranking prompts (9 answers each) and demonstration prompts; "
        "a project of search-tool tasks over a small handbook corpus; a project of conversations."
    )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        users, fresh = {}, []
        for username, role, staff in USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                password = f"{username}-demo"
                user = User.objects.create_user(
                    username=username, password=password, is_staff=staff, is_superuser=staff
                )
                fresh.append((username, password, role))
            users[username] = (user, role)
        project = Project.objects.filter(name=PROJECT).first()
        if project is None:
            project = project_create(
                name=PROJECT,
                task_kinds=["ranking", "demonstration"],
                k=9,
                overlap=2,
                lease_seconds=1800,
                created_by=users["admin"][0],
                description="Rank nine answers per prompt and write ideal answers for a general assistant.",
            )
            guideline_publish(
                guideline=project.guideline,
                author=users["admin"][0],
                body=GUIDELINE,
                change_note="First version",
            )
        for user, role in users.values():
            membership_set(project=project, user=user, role=role)
        version = project.guideline.versions.order_by("-number").first()
        assert version is not None  # published just above
        guideline_acknowledge(user=users["reviewer"][0], version=version)

        rows = [
            json.loads(line) for line in (DEMO / "ranking.jsonl").read_text().splitlines() if line.strip()
        ]
        prompts = [{"external_id": r["external_id"], "prompt": r["prompt"], "source": "demo"} for r in rows]
        candidates = [
            {"prompt_external_id": r["external_id"], "text": text, "model": "demo-writers", "sample_index": i}
            for r in rows
            for i, text in enumerate(r["answers"])
        ]
        ranked = prompts_import(project=project, stream=_jsonl(prompts), fmt="jsonl", task_kind="ranking")
        answered = candidates_import(project=project, stream=_jsonl(candidates), fmt="jsonl")
        with (DEMO / "demonstration.jsonl").open("rb") as stream:
            demos = prompts_import(project=project, stream=stream, fmt="jsonl", task_kind="demonstration")
        self.stdout.write(
            f"Project {project.name!r}: {ranked.created} ranking prompts, {answered.created} answers, "
            f"{demos.created} demonstration prompts added; "
            f"{ranked.tasks_created + answered.tasks_created + demos.tasks_created} tasks created."
        )
        self._seed_search(users)
        self._seed_chats(users)
        if fresh:
            self.stdout.write("Demo accounts (change these passwords outside a demo):")
            for username, password, role in fresh:
                self.stdout.write(f"  {role:9} {username:9} password: {password}")
        else:
            self.stdout.write(
                "Demo accounts exist already: admin, reviewer, lena, omar (password: <name>-demo)."
            )

    def _seed_search(self, users: dict[str, tuple[Any, str]]) -> None:
        """A project of search-tool tasks, so that a newcomer meets that kind of task too."""
        project = _handbook_project(
            users,
            name=SEARCH_PROJECT,
            kind="search",
            guideline=SEARCH_GUIDELINE,
            description="Answer questions with the search tool over a small handbook, citing what it finds.",
        )
        with (DEMO / "search.jsonl").open("rb") as stream:
            asked = prompts_import(project=project, stream=stream, fmt="jsonl", task_kind="search")
        documents = SearchCorpus.objects.get(project=project, name=SEARCH_CORPUS).document_count
        self.stdout.write(
            f"Project {project.name!r}: {asked.created} search-tool prompts added "
            f"({asked.tasks_created} tasks), a handbook of {documents} documents to search."
        )

    def _seed_chats(self, users: dict[str, tuple[Any, str]]) -> None:
        """A project of chat tasks whose assistant can search the same handbook."""
        project = _handbook_project(
            users,
            name=CHAT_PROJECT,
            kind="chat",
            guideline=CHAT_GUIDELINE,
            description="Write whole conversations, playing the user and the assistant (who can search).",
        )
        with (DEMO / "chat.jsonl").open("rb") as stream:
            opened = prompts_import(project=project, stream=stream, fmt="jsonl", task_kind="chat")
        self.stdout.write(
            f"Project {project.name!r}: {opened.created} conversation openings added "
            f"({opened.tasks_created} tasks); the assistant can search the same handbook."
        )


def _handbook_project(
    users: dict[str, tuple[Any, str]], *, name: str, kind: str, guideline: str, description: str
) -> Project:
    """A demo project of one task kind over the demo handbook: made and its guideline published once,
    every demo user a member, the reviewer's acknowledgement given, the handbook uploaded once."""
    admin = users["admin"][0]
    project = Project.objects.filter(name=name).first()
    if project is None:
        project = project_create(
            name=name,
            task_kinds=[kind],
            k=4,
            overlap=1,
            lease_seconds=3600,
            created_by=admin,
            description=description,
        )
        guideline_publish(
            guideline=project.guideline, author=admin, body=guideline, change_note="First version"
        )
    for user, role in users.values():
        membership_set(project=project, user=user, role=role)
    version = project.guideline.versions.order_by("-number").first()
    assert version is not None  # published just above
    guideline_acknowledge(user=users["reviewer"][0], version=version)
    if not SearchCorpus.objects.filter(project=project, name=SEARCH_CORPUS).exists():
        with (DEMO / "search_corpus.jsonl").open("rb") as stream:
            corpus_upload(project=project, name=SEARCH_CORPUS, stream=stream, uploaded_by=admin)
    return project


def _jsonl(rows: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(row) + "\n" for row in rows).encode())
