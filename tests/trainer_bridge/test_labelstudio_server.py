"""Against a real Label Studio server: push Coach tasks, annotate through its API, pull, compare."""

import json

import pytest
from django.core.management import call_command

from labeling.models import Assignment, Demonstration, Ranking
from tests.factories import import_prompts, seed_rankings
from tests.trainer_bridge.labelstudio_server import LabelStudioUnavailable, label_studio
from trainer_bridge.labelstudio import RANKER, REPLY, ls_client


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    try:
        with label_studio(tmp_path_factory.mktemp("ls")) as running:
            yield running
    except LabelStudioUnavailable as exc:
        if "virtualenv" in str(exc):
            pytest.skip(f"Label Studio cannot be installed here: {exc}")
        raise


@pytest.fixture
def team(make_project, add_member):
    project = make_project(name="ls", kinds=["ranking", "demonstration"], overlap=2)
    seed_rankings(project, 3)
    import_prompts(project, ["Describe a lighthouse.", "Say hello in French."], "demonstration")
    lea, otto = add_member(project, "lea"), add_member(project, "otto")
    lea.email, otto.email = "lea@example.com", "otto@example.com"
    lea.save(), otto.save()
    return project, lea, otto


def run(command, **options):
    from io import StringIO

    out = StringIO()
    call_command(command, stdout=out, stderr=StringIO(), **options)
    return json.loads(out.getvalue())


@pytest.mark.external
def test_push_annotate_in_label_studio_pull_back(server, team):
    project, lea, otto = team
    connection = {"url": server.url, "api_key": server.token}

    pushed = run("ls_push", project=project.name, kind="ranking", no_progress=True, **connection)
    assert pushed["created"] and pushed["imported"] == 3
    again = run("ls_push", project=str(project.pk), kind="ranking", no_progress=True, **connection)
    assert not again["created"] and again["imported"] == 0 and again["already_there"] == 3
    assert again["ls_project_id"] == pushed["ls_project_id"]

    client = ls_client(**connection)
    otto_ls = client.users.create(email="otto@example.com", username="otto", password="otto-password-123")
    lea_ls = client.users.whoami()
    expected = {}
    for ls_task in client.tasks.list(project=pushed["ls_project_id"], page_size=100):
        ids = [item["id"] for item in ls_task.data["answers"]]
        orders = {"lea": list(reversed(ids)), "otto": ids}
        for who, ls_user in (("lea", lea_ls), ("otto", otto_ls)):
            result = [
                {
                    "from_name": RANKER,
                    "to_name": "answers",
                    "type": "ranker",
                    "value": {"ranker": {RANKER: orders[who]}},
                }
            ]
            client.annotations.create(id=ls_task.id, result=result, completed_by=ls_user.id, lead_time=42.0)
            expected[(ls_task.data["coach_task_id"], who)] = [[int(cid)] for cid in orders[who]]

    pulled = run("ls_pull", project=project.name, kind="ranking", **connection)
    assert pulled == {"created": 6, "unchanged": 0, "skipped": []}
    got = {
        (r.task_id, r.assignment.labeler.username): r.tiers
        for r in Ranking.objects.filter(task__project=project).select_related("assignment__labeler")
    }
    assert got == expected
    assert all(a.state == "submitted" for a in Assignment.objects.filter(task__project=project))
    assert {r.seconds for r in Ranking.objects.filter(task__project=project)} == {42.0}
    assert set(project.tasks.filter(kind="ranking").values_list("status", flat=True)) == {"done"}

    assert run("ls_pull", project=project.name, kind="ranking", **connection) == {
        "created": 0,
        "unchanged": 6,
        "skipped": [],
    }


@pytest.mark.external
def test_demonstrations_round_trip_through_a_textarea(server, team, tmp_path):
    project, lea, otto = team
    connection = {"url": server.url, "api_key": server.token}
    pushed = run("ls_push", project=project.name, kind="demonstration", no_progress=True, **connection)
    client = ls_client(**connection)
    for ls_task in client.tasks.list(project=pushed["ls_project_id"]):
        text = f"A written reply to: {ls_task.data['prompt'][-1]['content']}"
        result = [{"from_name": REPLY, "to_name": "prompt", "type": "textarea", "value": {"text": [text]}}]
        client.annotations.create(id=ls_task.id, result=result)

    assert run("ls_pull", project=project.name, kind="demonstration", **connection)["created"] == 2
    for demonstration in Demonstration.objects.filter(task__project=project).select_related("task__prompt"):
        prompt = demonstration.task.prompt.messages
        assert demonstration.messages[: len(prompt)] == prompt
        assert demonstration.messages[-1] == {
            "role": "assistant",
            "content": f"A written reply to: {prompt[-1]['content']}",
        }
        assert demonstration.assignment.labeler == lea

    # the same annotations, from Label Studio's own JSON export file, offline: nothing new
    export = tmp_path / "export.json"
    export.write_bytes(
        b"".join(client.projects.exports.download_sync(pushed["ls_project_id"], export_type="JSON"))
    )
    offline = run(
        "ls_pull", project=project.name, file=str(export), user_map=[f"{client.users.whoami().id}=lea"]
    )
    assert offline == {"created": 0, "unchanged": 2, "skipped": []}
