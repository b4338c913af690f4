import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core.errors import DomainError
from curation.models import PracticeSet
from curation.practice import ANSWER_INSTRUCTION, practice_set_upload
from registry.models import ModelVersion
from tests.factories import jsonl
from trainer_bridge.exports import run_practice_export
from trainer_bridge.jobs.lifecycle import job_run
from trainer_bridge.models import JobStatus, PracticeResult, PracticeSolution
from trainer_bridge.services.practice import practice_run_start, practice_run_verify


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_pass_rates_and_the_three_exports(project, admin, tmp_path):
    rows = [
        {"problem": "2+2?", "answer": "4", "verifier": "numeric"},
        {"problem": "Capital of Peru?", "answer": "Lima"},
    ]
    practice_set = practice_set_upload(project=project, name="mix", stream=jsonl(rows), uploaded_by=admin)
    unrun = ModelVersion.objects.create(name="m", kind="base", path="/nowhere")  # answers stored below
    run = practice_run_start(practice_set=practice_set, model_version=unrun, samples=3, dispatch=False)
    add, peru = practice_set.problems.order_by("line")
    for problem, texts in {add: ["Answer: 4", "Answer: 5", "Answer: 4"], peru: ["Answer: Quito"] * 3}.items():
        for i, text in enumerate(texts):
            PracticeSolution.objects.create(run=run, problem=problem, sample_index=i, text=text)

    practice_run_verify(run=run)
    run.status = JobStatus.DONE
    run.save()

    rates = dict(PracticeResult.objects.filter(run=run).values_list("problem__line", "pass_rate"))
    assert rates == {1: pytest.approx(2 / 3), 2: 0.0}
    assert PracticeSolution.objects.get(run=run, problem=add, sample_index=1).final_answer == "5"

    def export(kind, name, run=run):
        return run_practice_export(
            practice_set=practice_set, run=run, kind=kind, path=tmp_path / name
        ).records

    prompt = [{"role": "user", "content": f"2+2?\n\n{ANSWER_INSTRUCTION}"}]
    assert export("sft", "sft.jsonl") == 1
    assert _read(tmp_path / "sft.jsonl") == [
        {"messages": [*prompt, {"role": "assistant", "content": "Answer: 4"}]}
    ]
    assert export("rm", "rm.jsonl") == 1
    assert _read(tmp_path / "rm.jsonl") == [
        {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": "Answer: 4"}],
            "rejected": [{"role": "assistant", "content": "Answer: 5"}],
        }
    ]
    assert export("problems", "rl.jsonl") == 2
    rl = _read(tmp_path / "rl.jsonl")
    assert rl[1] == {
        "prompt": [{"role": "user", "content": f"Capital of Peru?\n\n{ANSWER_INSTRUCTION}"}],
        "answer": "Lima",
        "verifier": "exact",
        "split": peru.split,
        "line": 2,
        "pass_rate": 0.0,
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "rl.jsonl",
        "rm.jsonl",
        "sft.jsonl",
    ]  # no temp files
    with pytest.raises(DomainError, match="made from a practice run") as refused:
        export("sft", "x.jsonl", run=None)
    assert refused.value.field == "run"


def test_a_practice_run_with_a_real_model_stores_every_sample_and_a_pass_rate(project, admin, tiny_model_dir):
    rows = [
        {"problem": "What is 6 times 7?", "answer": "42", "verifier": "numeric"},
        {"problem": "Say hi.", "answer": ".*", "verifier": "regex"},
    ]
    practice_set = practice_set_upload(project=project, name="tiny", stream=jsonl(rows), uploaded_by=admin)
    tiny = ModelVersion.objects.create(name="tiny", kind="base", path=str(tiny_model_dir))
    run = practice_run_start(
        practice_set=practice_set, model_version=tiny, samples=4, max_new_tokens=8, dispatch=False
    )

    job_run(job_id=run.pk)

    run.refresh_from_db()
    assert run.status == JobStatus.DONE
    assert PracticeSolution.objects.filter(run=run, correct__isnull=False).count() == 8
    results = {r.problem.line: r for r in PracticeResult.objects.filter(run=run).select_related("problem")}
    assert {line: r.total for line, r in results.items()} == {1: 4, 2: 4}
    assert results[2].pass_rate == 1.0  # '.*' accepts any final answer
    for r in results.values():
        stored = PracticeSolution.objects.filter(run=run, problem=r.problem, correct=True).count()
        assert r.passed == stored and r.pass_rate == stored / 4


def test_the_practice_command_uploads_and_export_practice_exports(project, admin, tmp_path):
    source = tmp_path / "problems.jsonl"
    source.write_text('{"problem": "1+1?", "answer": "2", "verifier": "numeric"}\n')
    out = StringIO()
    upload = ["practice", "upload", project.name, "arith", str(source), "--user", admin.username]
    call_command(*upload, "--seed", "5", "--validation-fraction", "0", stdout=out)
    practice_set = PracticeSet.objects.get(name="arith")
    assert (practice_set.split_seed, practice_set.validation_fraction) == (5, 0.0)
    assert json.loads(out.getvalue()) == {
        "practice_set": practice_set.pk,
        "problems": 1,
        "split": {"train": 1, "validation": 0},
    }

    out = StringIO()
    args = ["--set", str(practice_set.pk), "--no-progress"]
    call_command("export_practice", *args, "--out", str(tmp_path / "rl.jsonl"), stdout=out)
    assert _read(tmp_path / "rl.jsonl")[0]["answer"] == "2"
    assert json.loads(out.getvalue())["records"] == 1
    with pytest.raises(CommandError, match="made from a practice run"):
        call_command("export_practice", *args, "--kind", "sft", "--out", str(tmp_path / "sft.jsonl"))
    with pytest.raises(CommandError, match="no finished run 99"):
        call_command("export_practice", *args, "--kind", "sft", "--run", "99")

    source.write_text('{"problem": "1+1?", "answer": "two", "verifier": "numeric"}\n')
    err = StringIO()
    with pytest.raises(CommandError):
        call_command(
            "practice", "upload", project.name, "bad", str(source), "--user", admin.username, stderr=err
        )
    assert f"{source}:1: a numeric answer must be a number" in err.getvalue()
