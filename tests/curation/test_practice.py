import json
import time

import pytest

from curation.models import PracticeProblem
from curation.practice import practice_set_upload, verify
from curation.verifiers import final_answer, parse_number
from labeling.services.imports import ImportRejected
from tests.factories import jsonl


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


def test_a_catastrophic_regex_is_cut_off_counted_wrong_and_logged(caplog):
    """(a|aa)+b on 40 a's backtracks for minutes; the verifier gives up at its time limit."""
    problem = _problem("(a|aa)+b", "regex")
    started = time.monotonic()
    answer, right = verify(problem, "Answer: " + "a" * 40)
    assert (answer, right) == ("a" * 40, False)
    assert time.monotonic() - started < 2
    assert any("regex verifier stopped" in r.getMessage() for r in caplog.records)
    assert all(r.exc_info is None for r in caplog.records)  # one line, not a traceback
    assert verify(problem, "Answer: aaab") == ("aaab", True)  # the same pattern still works where it can


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
