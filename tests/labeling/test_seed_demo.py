"""The demo seeds every kind of task a newcomer should meet, search-tool tasks with a corpus included."""

from io import StringIO

from django.core.management import call_command

from guidelines.services import guideline_acknowledge
from labeling.models import Project, SearchDocument, Task
from labeling.search import search_documents
from labeling.services.drafts import search_run
from labeling.services.queue import claim_next_task


def test_the_demo_seeds_search_tool_tasks_over_a_corpus_and_runs_twice_without_duplicates(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)

    project = Project.objects.get(name="Answers with sources (demo)")
    assert project.task_kinds == ["search"]
    assert Task.objects.filter(project=project, kind="search").count() == 4
    assert SearchDocument.objects.filter(corpus__project=project).count() == 8
    assert "search-tool prompts added" in out.getvalue()
    found = search_documents(project_id=project.pk, query="Eiffel Tower height opened")
    assert found[0]["title"] == "Eiffel Tower"

    lena = project.memberships.get(user__username="lena").user
    guideline_acknowledge(user=lena, version=project.guideline.versions.get())
    assignment = claim_next_task(project=project, labeler=lena)
    assert assignment is not None and assignment.task.kind == "search"
    _, step = search_run(assignment_id=assignment.pk, labeler=lena, query="how tall is the eiffel tower")
    assert step["results"][0]["title"] == "Eiffel Tower"
    assert Project.objects.filter(name="Helpful answers (demo)").exists()


def test_the_demo_seeds_conversations_whose_assistant_can_search_the_handbook(db):
    from labeling.services.chat import chat_search

    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    project = Project.objects.get(name="Conversations (demo)")
    assert Task.objects.filter(project=project, kind="chat").count() == 4
    assert "conversation openings added" in out.getvalue()
    omar = project.memberships.get(user__username="omar").user
    guideline_acknowledge(user=omar, version=project.guideline.versions.get())
    assignment = claim_next_task(project=project, labeler=omar)
    assert assignment is not None and assignment.task.kind == "chat"
    opening = assignment.task.prompt.messages
    searched = chat_search(assignment_id=assignment.pk, labeler=omar, messages=opening, query="inner tube")
    assert "Changing a bicycle inner tube" in searched.messages[-1]["content"]
