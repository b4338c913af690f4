"""Generated input for the import parsers and ranking validation: refused line by line, never a crash."""

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from labeling import importing
from labeling.forms import RankingForm
from labeling.models import Candidate, CandidateRating, Prompt, Ranking
from labeling.services.annotations import InvalidRanking, ranking_submit, validate_tiers
from labeling.services.imports import ImportRejected, candidates_import, prompts_import
from labeling.services.queue import claim_next_task
from tests.factories import seed_rankings

FUZZ = settings(max_examples=100, deadline=None, database=None)
WITH_DB = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant", "tool", "robot"]), "content": json_values}
    ),
    max_size=3,
)
PROMPT_KEYS = ["prompt", "messages", "system", "external_id", "source", "metadata", "task_kind"]
CANDIDATE_KEYS = ["prompt_external_id", "text", "answer", "model", "sample_index", "sampling_params"]


def records(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the importer's own keys (and some others) holding any JSON, often of the right type."""
    value = st.text(max_size=30) | json_values | messages
    return st.dictionaries(st.sampled_from([*keys, "other"]), value, max_size=len(keys))


def jsonl_file(rows: list[Any]) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(r) + "\n" for r in rows).encode())


def csv_file(rows: list[dict[str, Any]], keys: list[str]) -> io.BytesIO:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: v if isinstance(v, str) else json.dumps(v) for k, v in row.items()})
    return io.BytesIO(text.getvalue().encode())


def _assert_line_errors(parsed: importing.Parsed, lines: int) -> None:
    for error in parsed.errors:
        assert isinstance(error.line, int) and 0 <= error.line <= lines + 1 and error.reason


@FUZZ
@given(data=st.binary(max_size=3000), fmt=st.sampled_from(["jsonl", "csv"]))
def test_any_bytes_parse_into_rows_or_numbered_line_errors(data: bytes, fmt: str) -> None:
    lines = data.count(b"\n") + data.count(b"\r") + 1
    for parsed in (
        importing.parse_prompt_file(io.BytesIO(data), fmt, allowed_kinds=["ranking"]),
        importing.parse_candidate_file(io.BytesIO(data), fmt),
    ):
        _assert_line_errors(parsed, lines)
        assert parsed.rows or parsed.errors


@FUZZ
@given(text=st.text(max_size=500), fmt=st.sampled_from(["jsonl", "csv"]))
def test_any_text_parses_into_rows_or_numbered_line_errors(text: str, fmt: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    parsed = importing.parse_prompt_file(io.BytesIO(data), fmt, allowed_kinds=["ranking", "demonstration"])
    _assert_line_errors(parsed, text.count("\n") + text.count("\r") + 1)


def _counts() -> tuple[int, int]:
    return Prompt.objects.count(), Candidate.objects.count()


@WITH_DB
@given(rows=st.lists(records(PROMPT_KEYS), min_size=1, max_size=5), fmt=st.sampled_from(["jsonl", "csv"]))
def test_a_prompt_file_imports_whole_or_not_at_all(project, rows: list[dict[str, Any]], fmt: str) -> None:
    stream = jsonl_file(rows) if fmt == "jsonl" else csv_file(rows, PROMPT_KEYS)
    # Line numbers count physical lines (a CSV cell may span several, \r ends one too), as an editor does.
    physical_lines = len(stream.getvalue().splitlines()) + 1
    before = _counts()
    try:
        result = prompts_import(project=project, stream=stream, fmt=fmt)
    except ImportRejected as exc:
        assert _counts() == before
        assert all(0 <= line["line"] <= physical_lines for line in exc.as_dict()["lines"])
    except DomainError:
        assert _counts() == before
    else:
        assert result.created + result.unchanged == len(rows)


@WITH_DB
@given(rows=st.lists(records(CANDIDATE_KEYS), min_size=1, max_size=5), fmt=st.sampled_from(["jsonl", "csv"]))
def test_a_candidate_file_imports_whole_or_not_at_all(project, rows: list[dict[str, Any]], fmt: str) -> None:
    seed_rankings(project, 1, k=2) if not Prompt.objects.exists() else None
    for row in rows[::2]:
        row["prompt_external_id"] = "p0"  # half the rows name a real prompt
    stream = jsonl_file(rows) if fmt == "jsonl" else csv_file(rows, CANDIDATE_KEYS)
    # Line numbers count physical lines (a CSV cell may span several, \r ends one too), as an editor does.
    physical_lines = len(stream.getvalue().splitlines()) + 1
    before = _counts()
    try:
        candidates_import(project=project, stream=stream, fmt=fmt)
    except ImportRejected as exc:
        assert _counts() == before
        assert all(0 <= line["line"] <= physical_lines for line in exc.as_dict()["lines"])
    except DomainError:
        assert _counts() == before


# --- rankings ------------------------------------------------------------------------------------

CANDIDATE_IDS = [11, 12, 13, 14, 15]


@st.composite
def valid_tiers(draw: st.DrawFn, ids: list[int]) -> list[list[int]]:
    """Every candidate exactly once, cut into non-empty tiers (ties allowed)."""
    order = draw(st.permutations(ids))
    cuts = sorted(draw(st.sets(st.integers(1, len(ids) - 1))))
    return [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, len(ids)], strict=True)]


tier_like = st.recursive(
    st.integers(-3, 20) | st.booleans() | st.none() | st.text(max_size=3) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=12,
)


@FUZZ
@given(tiers=valid_tiers(CANDIDATE_IDS))
def test_every_valid_ranking_is_accepted_as_given(tiers: list[list[int]]) -> None:
    assert validate_tiers(tiers, CANDIDATE_IDS) == tiers


@FUZZ
@given(tiers=tier_like)
def test_anything_else_is_refused_with_a_reason(tiers: Any) -> None:
    is_valid = (
        isinstance(tiers, list)
        and tiers
        and all(isinstance(t, list) and t and all(type(c) is int for c in t) for t in tiers)
        and sorted(c for tier in tiers for c in tier) == CANDIDATE_IDS
    )
    if is_valid:
        assert validate_tiers(tiers, CANDIDATE_IDS) == tiers
    else:
        with pytest.raises(InvalidRanking) as refused:
            validate_tiers(tiers, CANDIDATE_IDS)
        assert refused.value.field == "tiers" and refused.value.detail


def _form(data: dict[str, Any]) -> RankingForm:
    candidates = [Candidate(pk=cid, text=f"answer {cid}") for cid in CANDIDATE_IDS]
    return RankingForm(data, candidates=candidates, tiers=len(candidates))


form_values = st.text(max_size=4) | st.integers(-2, 8).map(str)
form_keys = st.sampled_from(
    [f"{field}-{cid}" for cid in [*CANDIDATE_IDS, 99] for field in ("tier", "overall", "hallucination")]
    + ["all_bad", "seconds"]
)


@FUZZ
@given(data=st.dictionaries(form_keys, form_values, max_size=14))
def test_a_ranking_form_the_browser_may_send_is_valid_only_when_the_service_accepts_it(
    data: dict[str, str],
) -> None:
    form = _form(data)
    if not form.is_valid():
        assert form.errors
        return
    if form.cleaned_data["all_bad"] and not form.tiers():
        return  # one shared tier, built by the service
    assert validate_tiers(form.tiers(), CANDIDATE_IDS) == form.tiers()


@WITH_DB
@given(
    tiers=tier_like,
    ratings=st.none()
    | st.lists(
        json_values
        | st.dictionaries(
            st.sampled_from(["candidate", "overall", "hallucination", "odd"]), json_values, max_size=3
        ),
        max_size=3,
    ),
)
def test_an_invalid_ranking_submission_stores_nothing(project, add_member, tiers: Any, ratings: Any) -> None:
    if not project.tasks.exists():
        seed_rankings(project, 1)
        add_member(project, "lea")
    lea = project.memberships.get(user__username="lea").user
    assignment = project.tasks.get().assignments.filter(labeler=lea).first() or claim_next_task(
        project=project, labeler=lea
    )
    ids = assignment.task.candidate_ids
    tiers = tiers if not (isinstance(tiers, list) and tiers == [ids]) else [[-1]]
    with pytest.raises(InvalidRanking):
        ranking_submit(assignment_id=assignment.pk, labeler=lea, tiers=tiers, ratings=ratings)
    assert not Ranking.objects.exists() and not CandidateRating.objects.exists()


@pytest.mark.parametrize(
    "what, row",
    [
        ("prompts", {"external_id": "n", "prompt": "before\x00after"}),
        ("prompts", {"external_id": "n", "prompt": "fine", "metadata": {"note": "\x00"}}),
        ("candidates", {"prompt_external_id": "p0", "text": "an answer\x00", "model": "m"}),
    ],
)
def test_a_nul_character_is_a_line_error_not_a_database_error(
    project, what: str, row: dict[str, Any]
) -> None:
    seed_rankings(project, 1, k=2)
    before = _counts()
    run = prompts_import if what == "prompts" else candidates_import
    with pytest.raises(ImportRejected) as refused:
        run(project=project, stream=jsonl_file([row]), fmt="jsonl")
    assert refused.value.as_dict()["lines"] == [{"line": 1, "reason": refused.value.errors[0].reason}]
    assert "NUL" in refused.value.errors[0].reason and _counts() == before


@pytest.mark.parametrize(
    ("tiers", "refusal"),
    [
        ([list(range(500_000)) * 2], "more than the task's 5 candidate ids"),
        ([[i] for i in range(900_000)], "at most 5 tiers"),
        ([[1], [2], [3], [4], list(range(900_000))], "more than the task's 5 candidate ids"),
    ],
    ids=["one-huge-tier", "many-tiers", "huge-last-tier"],
)
def test_a_ranking_with_a_million_ids_is_refused_before_reading_them(tiers, refusal) -> None:
    """The body limit lets a labeler send about a million ids; no more than the task's K are read, and the
    answer is one short sentence."""
    with pytest.raises(InvalidRanking, match=refusal) as refused:
        validate_tiers(tiers, CANDIDATE_IDS)
    assert len(str(refused.value)) < 200


def test_an_error_lists_at_most_ten_ids() -> None:
    many = list(range(1000, 1400))
    with pytest.raises(InvalidRanking) as refused:
        validate_tiers([many], many[:-1] + [5])
    assert "(400 in all)" not in str(refused.value)  # K = 400 here: one foreign id, one missing
    with pytest.raises(InvalidRanking) as refused:
        validate_tiers([many[:200] + list(range(10**6, 10**6 + 200))], many)
    assert str(refused.value).count(",") < 15 and "(200 in all)" in str(refused.value)


@pytest.mark.parametrize(
    "csv_text",
    [
        'external_id,prompt\nn,"before\x00after"\n',
        'external_id,prompt,metadata\nn,fine,"{""note"": ""\\u0000""}"\n',
    ],
)
def test_a_nul_character_in_a_csv_cell_is_a_line_error(project, csv_text: str) -> None:
    before = _counts()
    with pytest.raises(ImportRejected) as refused:
        prompts_import(project=project, stream=io.BytesIO(csv_text.encode()), fmt="csv")
    assert [e.line for e in refused.value.errors] == [2]
    assert "NUL" in refused.value.errors[0].reason and _counts() == before
