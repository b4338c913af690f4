import io
import json

import pytest
from django.core.management import CommandError, call_command

from labeling.models import Candidate, Prompt, Task
from labeling.services.imports import ImportRejected, candidates_import, prompts_import
from tests.factories import jsonl


def _upload(client, project, which, content: bytes, name: str):
    upload = io.BytesIO(content)
    upload.name = name
    return client.post(f"/api/projects/{project.pk}/import/{which}/", {"file": upload}, format="multipart")


def test_prompts_and_candidates_import_and_make_ranking_tasks(project, admin, api):
    client = api(admin)
    prompts = [
        {"external_id": "a", "prompt": "What is 2+2?"},
        {"external_id": "b", "messages": [{"role": "user", "content": "Name a colour."}]},
    ]
    response = _upload(client, project, "prompts", jsonl(prompts).getvalue(), "p.jsonl")
    assert response.json() == {"created": 2, "unchanged": 0, "tasks_created": 0}
    rows = [
        {"prompt_external_id": pid, "text": f"answer {i}", "model": "m1"} for pid in "ab" for i in range(4)
    ]
    response = _upload(client, project, "candidates", jsonl(rows).getvalue(), "c.jsonl")
    assert response.json() == {"created": 8, "unchanged": 0, "tasks_created": 2}
    task = Task.objects.get(prompt__external_id="a")
    assert sorted(task.candidate_ids) == sorted(
        Candidate.objects.filter(prompt=task.prompt).values_list("id", flat=True)
    )


def test_reimporting_the_same_files_changes_nothing(project):
    prompts = [{"external_id": f"p{i}", "prompt": f"Question {i}"} for i in range(3)]
    rows = [
        {"prompt_external_id": f"p{i}", "text": f"a{j}", "sample_index": j}
        for i in range(3)
        for j in range(4)
    ]
    for _ in range(2):
        prompts_import(project=project, stream=jsonl(prompts), fmt="jsonl")
        result = candidates_import(project=project, stream=jsonl(rows), fmt="jsonl")
    assert (result.created, result.unchanged, result.tasks_created) == (0, 12, 0)
    assert (Prompt.objects.count(), Candidate.objects.count(), Task.objects.count()) == (3, 12, 3)


def test_a_file_with_bad_lines_imports_nothing_and_reports_every_line(project, admin, api):
    lines = [
        json.dumps({"external_id": "ok", "prompt": "Fine prompt"}),
        "{not json",
        json.dumps({"external_id": "x"}),
        json.dumps(["a list"]),
        "",
        json.dumps({"prompt": "p", "messages": [{"role": "user", "content": "m"}]}),
        json.dumps({"messages": [{"role": "wizard", "content": "m"}]}),
        json.dumps({"prompt": "Kind?", "task_kind": "poetry"}),
    ]
    content = ("\n".join(lines) + "\n").encode() + b'{"prompt": "caf\xe9"}\n'
    response = _upload(api(admin), project, "prompts", content, "p.jsonl")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "import_rejected" and body["field"] == "file"
    reported = {e["line"]: e["reason"] for e in body["lines"]}
    assert sorted(reported) == [2, 3, 4, 6, 7, 8, 9]
    assert "invalid JSON" in reported[2] and "missing prompt" in reported[3] and "UTF-8" in reported[9]
    assert "wizard" in reported[7] and "poetry" in reported[8]
    assert not Prompt.objects.exists()


def test_csv_prompts_and_candidates_with_an_unknown_prompt_id(project):
    prompts = 'external_id,prompt,source\nq1,"Hello, there?",csv\nq2,Second,csv\n'
    prompts_import(project=project, stream=io.BytesIO(prompts.encode()), fmt="csv")
    assert Prompt.objects.get(external_id="q1").messages == [{"role": "user", "content": "Hello, there?"}]
    bad = "prompt_external_id,text\nq1,one\nnope,two\nq1,\n"
    with pytest.raises(ImportRejected) as rejected:
        candidates_import(project=project, stream=io.BytesIO(bad.encode()), fmt="csv")
    assert [(e.line, e.reason) for e in rejected.value.errors] == [
        (3, "no prompt with external_id 'nope'"),
        (4, "missing text (the candidate answer)"),
    ]
    assert not Candidate.objects.exists()


def test_an_external_id_reused_with_other_content_is_refused(project):
    prompts_import(project=project, stream=jsonl([{"external_id": "a", "prompt": "One"}]), fmt="jsonl")
    with pytest.raises(ImportRejected, match="1 bad line"):
        prompts_import(project=project, stream=jsonl([{"external_id": "a", "prompt": "Two"}]), fmt="jsonl")


def test_import_commands_report_line_numbers(project, tmp_path, capsys):
    good = tmp_path / "prompts.jsonl"
    good.write_text(json.dumps({"external_id": "a", "prompt": "Hi"}) + "\n")
    call_command("import_prompts", project.name, str(good), "--task-kind", "demonstration")
    assert "1 prompts imported" in capsys.readouterr().out
    assert Task.objects.get().kind == "demonstration"
    bad = tmp_path / "candidates.jsonl"
    bad.write_text(json.dumps({"prompt_external_id": "a", "text": "x"}) + "\n{oops\n")
    with pytest.raises(CommandError, match="1 bad line"):
        call_command("import_candidates", str(project.pk), str(bad))
    assert f"{bad}:2: invalid JSON" in capsys.readouterr().err
