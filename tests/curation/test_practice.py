import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core.errors import DomainError
from curation.practice import (
    ANSWER_INSTRUCTION,
    final_answer,
    parse_number,
    practice_export,
    practice_run_execute,
    practice_run_start,
    practice_run_verify,
    practice_set_upload,
    verify,
)
from curation.practice_models import (
    PracticeProblem,
    PracticeResult,
    PracticeSet,
    PracticeSolution,
    SamplingStatus,
)
from labeling.services.imports import ImportRejected
from tests.conftest import jsonl
from tests.curation.tiny import tiny_model_dir_fixture  # noqa: F401


def _problem(answer: str, verifier: str, **options) -> PracticeProblem:
    return PracticeProblem(line=1, problem="p", answer=answer, verifier=verifier, options=options)


def test_the_final_answer_is_the_last_boxed_then_the_answer_line_then_the_last_line():
    assert final_answer("so \\boxed{3} then \\boxed{42}.") == "42"
    assert final_answer("Work: 2+2.\nAnswer: 4\nThanks") == "4"
    assert final_answer("The final answer is 12 apples") == "12 apples"
    assert final_answer("first\n\nlast line  \n") == "last line"


def test_numbers_are_read_with_commas_exponents_and_fractions():
    assert parse_number("about 1,234.5 km") == 1234.5
    assert parse_number("-3/4") == -0.75
    assert parse_number("2e3") == 2000.0
    assert parse_number("none") is None


@pytest.mark.parametrize(
    ("problem", "solution", "right"),
    [
        (_problem("Paris", "exact"), "Answer: paris.", True),
        (_problem("Paris", "exact"), "Answer: Paris, France", False),
        (_problem("3.14159", "numeric", tolerance=0.01), "Answer: 3.14", True),
        (_problem("3.14159", "numeric", tolerance=0.001), "Answer: 3.14", False),
        (_problem("1000", "numeric", tolerance=0.01, relative=True), "Answer: 1,009", True),
        (_problem("0.5", "numeric", tolerance=0), "Answer: 1/2", True),
        (_problem("0.5", "numeric", tolerance=0), "Answer: half", False),
        (_problem(r"x\s*=\s*-?\d+", "regex"), "Answer: x = -7", True),
        (_problem(r"x\s*=\s*-?\d+", "regex"), "Answer: y = 7", False),
        (_problem("B", "choice", choices=["red", "green", "blue"]), "Answer: (B)", True),
        (_problem("B", "choice", choices=["red", "green", "blue"]), "Answer: green", True),
        (_problem("B", "choice", choices=["red", "green", "blue"]), "Answer: C", False),
    ],
)
def test_verifiers(problem, solution, right):
    assert verify(problem, solution)[1] is right


def test_upload_rejects_bad_lines_with_their_numbers(project, admin):
    rows = [
        {"problem": "2+2?", "answer": 4, "verifier": "numeric"},
        {"problem": "x?", "answer": "abc", "verifier": "numeric"},
        {"problem": "y?", "answer": "(", "verifier": "regex"},
        {"problem": "z?", "answer": "purple", "verifier": "choice", "choices": ["red", "green"]},
        {"problem": "w?", "answer": "1", "verifier": "guess"},
    ]
    with pytest.raises(ImportRejected) as rejected:
        practice_set_upload(project=project, name="math", stream=jsonl(rows), uploaded_by=admin)
    assert [e.line for e in rejected.value.errors] == [2, 3, 4, 5]
    assert not PracticeProblem.objects.exists()


def test_a_choice_answer_given_as_text_is_stored_as_its_letter(project, admin):
    rows = [{"problem": "Sky?", "answer": "blue", "verifier": "choice", "choices": ["red", "blue"]}]
    practice_set = practice_set_upload(project=project, name="mc", stream=jsonl(rows), uploaded_by=admin)
    problem = practice_set.problems.get()
    assert (problem.answer, problem.options) == ("B", {"choices": ["red", "blue"]})


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_pass_rates_and_the_three_exports(project, admin, tmp_path):
    rows = [
        {"problem": "2+2?", "answer": "4", "verifier": "numeric"},
        {"problem": "Capital of Peru?", "answer": "Lima"},
    ]
    practice_set = practice_set_upload(project=project, name="mix", stream=jsonl(rows), uploaded_by=admin)
    run = practice_run_start(
        practice_set=practice_set, model_name="m", model_path="/nowhere", samples=3, dispatch=False
    )
    add, peru = practice_set.problems.order_by("line")
    for problem, texts in {add: ["Answer: 4", "Answer: 5", "Answer: 4"], peru: ["Answer: Quito"] * 3}.items():
        for i, text in enumerate(texts):
            PracticeSolution.objects.create(run=run, problem=problem, sample_index=i, text=text)

    practice_run_verify(run=run)

    rates = dict(PracticeResult.objects.filter(run=run).values_list("problem__line", "pass_rate"))
    assert rates == {1: pytest.approx(2 / 3), 2: 0.0}
    assert PracticeSolution.objects.get(run=run, problem=add, sample_index=1).final_answer == "5"

    prompt = [{"role": "user", "content": f"2+2?\n\n{ANSWER_INSTRUCTION}"}]
    assert practice_export(kind="sft", path=tmp_path / "sft.jsonl", practice_set=practice_set, run=run) == 1
    assert _read(tmp_path / "sft.jsonl") == [
        {"messages": [*prompt, {"role": "assistant", "content": "Answer: 4"}]}
    ]
    assert practice_export(kind="rm", path=tmp_path / "rm.jsonl", practice_set=practice_set, run=run) == 1
    assert _read(tmp_path / "rm.jsonl") == [
        {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": "Answer: 4"}],
            "rejected": [{"role": "assistant", "content": "Answer: 5"}],
        }
    ]
    assert practice_export(kind="rl", path=tmp_path / "rl.jsonl", practice_set=practice_set, run=run) == 2
    rl = _read(tmp_path / "rl.jsonl")
    assert rl[1] == {
        "prompt": [{"role": "user", "content": f"Capital of Peru?\n\n{ANSWER_INSTRUCTION}"}],
        "answer": "Lima",
        "verifier": "exact",
        "options": {},
        "pass_rate": 0.0,
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "rl.jsonl",
        "rm.jsonl",
        "sft.jsonl",
    ]  # no temp files
    with pytest.raises(DomainError):
        practice_export(kind="sft", path=tmp_path / "x.jsonl", practice_set=practice_set, run=None)


def test_a_practice_run_with_a_real_model_stores_every_sample_and_a_pass_rate(project, admin, tiny_model_dir):
    rows = [
        {"problem": "What is 6 times 7?", "answer": "42", "verifier": "numeric"},
        {"problem": "Say hi.", "answer": ".*", "verifier": "regex"},
    ]
    practice_set = practice_set_upload(project=project, name="tiny", stream=jsonl(rows), uploaded_by=admin)
    run = practice_run_start(
        practice_set=practice_set,
        model_name="tiny@1",
        model_path=str(tiny_model_dir),
        samples=4,
        max_new_tokens=8,
        dispatch=False,
    )

    practice_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == SamplingStatus.DONE
    assert PracticeSolution.objects.filter(run=run, correct__isnull=False).count() == 8
    results = {r.problem.line: r for r in PracticeResult.objects.filter(run=run).select_related("problem")}
    assert {line: r.total for line, r in results.items()} == {1: 4, 2: 4}
    assert results[2].pass_rate == 1.0  # '.*' accepts any final answer
    for r in results.values():
        stored = PracticeSolution.objects.filter(run=run, problem=r.problem, correct=True).count()
        assert r.passed == stored and r.pass_rate == stored / 4


def test_the_practice_command_uploads_and_exports(project, admin, tmp_path):
    source = tmp_path / "problems.jsonl"
    source.write_text('{"problem": "1+1?", "answer": "2", "verifier": "numeric"}\n')
    out = StringIO()
    call_command(
        "practice", "upload", project.name, "arith", str(source), "--user", admin.username, stdout=out
    )
    practice_set = PracticeSet.objects.get(name="arith")
    assert json.loads(out.getvalue()) == {"practice_set": practice_set.pk, "problems": 1}

    call_command(
        "practice", "export", "rl", str(practice_set.pk), "--out", str(tmp_path / "rl.jsonl"), stdout=out
    )
    assert _read(tmp_path / "rl.jsonl")[0]["answer"] == "2"
    with pytest.raises(CommandError, match="needs a practice run"):
        call_command("practice", "export", "sft", str(practice_set.pk), "--out", str(tmp_path / "sft.jsonl"))

    source.write_text('{"problem": "1+1?", "answer": "two", "verifier": "numeric"}\n')
    err = StringIO()
    with pytest.raises(CommandError):
        call_command(
            "practice", "upload", project.name, "bad", str(source), "--user", admin.username, stderr=err
        )
    assert f"{source}:1: a numeric answer must be a number" in err.getvalue()
