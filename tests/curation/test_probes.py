import pytest

from core.errors import DomainError
from curation.models import ProbeQuestion, ProbeSet
from curation.probes import (
    containment_judge,
    exact_judge,
    judge_named,
    normalize_answer,
    probe_set_upload,
)
from labeling.services.imports import ImportRejected
from tests.factories import jsonl


def never_right(answer: str, question: ProbeQuestion) -> bool:
    """A judge for the test of dotted-path judges."""
    return False


def _question(reference: str, aliases: list[str] | None = None) -> ProbeQuestion:
    return ProbeQuestion(line=1, question="q", reference=reference, aliases=aliases or [])


def test_normalization_drops_case_punctuation_and_articles():
    assert normalize_answer("  The Eiffel-Tower, in PARIS! ") == "eiffeltower in paris"


def test_containment_judge_needs_the_reference_as_whole_words():
    paris = _question("Paris", ["City of Light"])
    assert containment_judge("I believe it is Paris, France.", paris)
    assert containment_judge("the city of light", paris)
    assert not containment_judge("Parisian cafes", paris)
    assert not containment_judge("London", paris)
    assert exact_judge("paris.", paris)
    assert not exact_judge("It is Paris", paris)


def test_a_judge_can_be_named_by_its_import_path():
    assert judge_named("containment") is containment_judge
    assert judge_named("tests.curation.test_probes.never_right") is never_right
    with pytest.raises(DomainError):
        judge_named("no.such.judge")


def test_upload_with_bad_lines_reports_every_line_and_stores_nothing(project, admin):
    stream = jsonl(
        [
            {"question": "Capital of France?", "reference": "Paris"},
            {"question": "", "reference": "x"},
            {"question": "Who?", "reference": "Ada", "aliases": "Lovelace"},
            {"question": "Q", "reference": "A", "hint": "extra"},
        ]
    )
    stream = type(stream)(stream.getvalue() + b"not json\n")
    with pytest.raises(ImportRejected) as rejected:
        probe_set_upload(project=project, name="facts", stream=stream, uploaded_by=admin)
    assert [e.line for e in rejected.value.errors] == [2, 3, 4, 5]
    assert not ProbeSet.objects.exists() and not ProbeQuestion.objects.exists()


def test_upload_stores_questions_with_their_line_numbers(project, admin):
    rows = [
        {"question": "Capital of France?", "reference": "Paris", "context": "Europe."},
        {"question": "2+2?", "reference": "4"},
    ]
    probe_set = probe_set_upload(project=project, name="facts", stream=jsonl(rows), uploaded_by=admin)
    assert list(probe_set.questions.order_by("line").values_list("line", "reference", "context")) == [
        (1, "Paris", "Europe."),
        (2, "4", ""),
    ]
    with pytest.raises(DomainError):
        probe_set_upload(project=project, name="facts", stream=jsonl(rows), uploaded_by=admin)
