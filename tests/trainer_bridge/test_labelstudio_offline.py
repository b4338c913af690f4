"""Label Studio configs and pulling from an export file: no server needed."""

import json

import pytest
from django.core.management import CommandError, call_command
from label_studio_sdk.label_interface import LabelInterface

from labeling.models import Assignment, Demonstration, Ranking, Task
from tests.factories import import_prompts, seed_rankings
from trainer_bridge.labelstudio import LabelStudioError, label_config, ls_pull, ls_task


def test_the_configs_are_valid_and_accept_the_results_coach_reads():
    ranking = LabelInterface(label_config("ranking"))
    assert ranking.validate_annotation(
        {
            "result": [
                {
                    "from_name": "rank",
                    "to_name": "answers",
                    "type": "ranker",
                    "value": {"ranker": {"rank": ["2", "1"]}},
                }
            ]
        }
    )
    assert [c.tag for c in ranking.controls] == ["Ranker"] and {o.tag for o in ranking.objects} == {
        "List",
        "Paragraphs",
    }
    demonstration = LabelInterface(label_config("refusal"))
    assert demonstration.validate_annotation(
        {
            "result": [
                {
                    "from_name": "reply",
                    "to_name": "prompt",
                    "type": "textarea",
                    "value": {"text": ["No idea."]},
                }
            ]
        }
    )
    with pytest.raises(LabelStudioError, match="search tasks have no Label Studio config"):
        label_config("search")


@pytest.fixture
def team(make_project, add_member):
    project = make_project(name="offline", kinds=["ranking", "demonstration"])
    seed_rankings(project, 2)
    import_prompts(project, ["Describe a lighthouse."], "demonstration")
    lea = add_member(project, "lea")
    lea.email = "Lea@Example.com"
    lea.save()
    return project, lea


def export_of(project, orders, *, completed_by=1, extra=()):
    """A Label Studio JSON export as its server writes it, one annotation per task."""
    tasks = []
    for i, task in enumerate(Task.objects.filter(project=project).select_related("prompt").order_by("id")):
        data = ls_task(task, {cid: f"text {cid}" for cid in task.candidate_ids})
        if task.kind == "ranking":
            ids = [str(c) for c in orders(task)]
            result = [
                {
                    "from_name": "rank",
                    "to_name": "answers",
                    "type": "ranker",
                    "value": {"ranker": {"rank": ids}},
                }
            ]
        else:
            result = [
                {
                    "from_name": "reply",
                    "to_name": "prompt",
                    "type": "textarea",
                    "value": {"text": ["Tall, white, bright."]},
                }
            ]
        annotation = {
            "id": 100 + i,
            "completed_by": completed_by,
            "result": result,
            "was_cancelled": False,
            "lead_time": 7.5,
        }
        tasks.append({"id": i + 1, "data": data["data"], "annotations": [annotation]})
    return tasks + list(extra)


def test_pulling_an_export_file_records_submissions_once(team, tmp_path):
    project, lea = team
    tasks = export_of(project, lambda task: list(reversed(task.candidate_ids)))
    result = ls_pull(project=project, tasks=tasks, emails={"1": "lea@example.com"})
    assert (result.created, result.unchanged, result.skipped) == (3, 0, [])
    for ranking in Ranking.objects.filter(task__project=project):
        assert ranking.tiers == [[cid] for cid in reversed(ranking.task.candidate_ids)]
        assert ranking.assignment.labeler == lea and ranking.seconds == 7.5
    demo = Demonstration.objects.get(task__project=project)
    assert demo.messages[-1] == {"role": "assistant", "content": "Tall, white, bright."}

    again = ls_pull(project=project, tasks=tasks, emails={"1": "lea@example.com"})
    assert (again.created, again.unchanged) == (0, 3)
    assert Assignment.objects.filter(task__project=project).count() == 3
    assert all(t.claimed_count == 1 == t.completed_count for t in Task.objects.filter(project=project))


def test_a_different_annotation_for_recorded_work_is_reported_not_applied(team):
    project, lea = team
    ls_pull(project=project, tasks=export_of(project, lambda t: t.candidate_ids), user_map={"1": "lea"})
    changed = ls_pull(
        project=project,
        tasks=export_of(project, lambda t: list(reversed(t.candidate_ids))),
        user_map={"1": "lea"},
    )
    assert changed.created == 0 and changed.unchanged == 1 and len(changed.skipped) == 2
    assert "already did task" in changed.skipped[0]
    assert all(
        r.tiers == [[c] for c in r.task.candidate_ids] for r in Ranking.objects.filter(task__project=project)
    )


def test_unmapped_annotators_stop_the_pull_before_anything_is_written(team):
    project, _ = team
    with pytest.raises(LabelStudioError, match=r"annotators \['7'\] match no member"):
        ls_pull(project=project, tasks=export_of(project, lambda t: t.candidate_ids, completed_by=7))
    assert not Assignment.objects.filter(task__project=project).exists()


def test_bad_annotations_are_skipped_with_a_reason(team):
    project, _ = team
    foreign = {
        "id": 99,
        "data": {"coach_task_id": 424242},
        "annotations": [{"id": 1, "completed_by": 1, "result": []}],
    }
    cancelled = {
        "id": 98,
        "data": {"coach_task_id": 1},
        "annotations": [{"id": 2, "completed_by": 1, "was_cancelled": True}],
    }
    tasks = export_of(
        project, lambda t: t.candidate_ids[:-1], extra=[foreign, cancelled]
    )  # one candidate left out
    result = ls_pull(project=project, tasks=tasks, user_map={"1": "lea"})
    assert result.created == 1  # only the demonstration
    reasons = " | ".join(result.skipped)
    assert "missing from the ranking" in reasons and "no task 424242" in reasons and len(result.skipped) == 3
    assert not Ranking.objects.filter(task__project=project).exists()
    assert all(t.claimed_count == 0 for t in Task.objects.filter(project=project, kind="ranking"))


def test_ls_pull_command_reads_a_file_with_a_user_map(team, tmp_path, capsys):
    project, _ = team
    path = tmp_path / "export.json"
    path.write_text(
        json.dumps(export_of(project, lambda t: t.candidate_ids, completed_by={"id": 3, "email": "x@y.z"}))
    )
    call_command("ls_pull", project=project.name, file=str(path), user_map=["x@y.z=lea"])
    assert json.loads(capsys.readouterr().out)["created"] == 3
    with pytest.raises(CommandError, match="LS_ID_OR_EMAIL=USERNAME"):
        call_command("ls_pull", project=project.name, file=str(path), user_map=["lea"])
    with pytest.raises(CommandError, match="cannot read the Label Studio export"):
        call_command("ls_pull", project=project.name, file=str(tmp_path / "missing.json"))
