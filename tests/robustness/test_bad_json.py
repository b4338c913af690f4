"""Each bad input that once gave a server error: now a 400 naming the field, nothing changed, one log line.

The bodies are sent as raw bytes, so what reaches Coach is exactly what a hostile client would send.
"""

import io
import json
import logging
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from curation.cleaning.selectors import cleaning_settings_get, quality_thresholds_for
from labeling.models import Candidate, Prompt, Ranking, Review
from tests.robustness.world import World

DEEP = "[" * 5000 + "]" * 5000  # past orjson's own limit
NESTED_70 = "[" * 70 + "1" + "]" * 70  # inside orjson's limit, past Coach's 64
BIG_NUMBER = "1" + "0" * 5000


@pytest.fixture
def no_traceback(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    yield
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not noisy, [r.getMessage() for r in noisy]


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _counts() -> tuple[int, ...]:
    return Prompt.objects.count(), Candidate.objects.count(), Ranking.objects.count(), Review.objects.count()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (DEEP, None),
        ('{"username": ' + NESTED_70 + "}", "username"),
        ('{"username": "ada", "password": "\\ud800"}', None),  # refused as orjson parses, before any field
        ('{"username": NaN}', None),
        ('{"username": "ada", "name": ' + BIG_NUMBER + "}", None),
    ],
    ids=["deep", "nested-70", "lone-surrogate", "nan", "5001-digits"],
)
def test_the_login_free_token_endpoint_refuses_hostile_json(db, no_traceback, body: str, field: str | None):
    response = Client().post("/api/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json" and len(response.content) < 1000
    assert response.json().get("field") == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"tiers": ' + NESTED_70 + "}", "tiers"),
        ('{"tiers": [[1]], "seconds": NaN}', None),
        ('{"tiers": [[1]], "seconds": 1e400}', None),
        ('{"tiers": [[1]], "seconds": ' + BIG_NUMBER + "}", None),
        ('{"messages": [{"role": "assistant", "content": "a\\ud800b"}]}', None),
        ('{"messages": [{"role": "assistant", "content": "ok"}], "tools": [{"type": "\\udfff"}]}', None),
        ('{"messages": [{"role": "assistant", "content": "a\\u0000b"}]}', "messages"),
    ],
    ids=["nested", "nan", "inf", "5001-digits", "surrogate-messages", "surrogate-tools", "nul"],
)
def test_a_submit_refuses_hostile_json_and_stores_nothing(world: World, no_traceback, body: str, field):
    before = _counts()
    url = f"/api/assignments/{world.ids['assignment_id']}/submit/"
    response = _api(world.people["labeler"]).post(url, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json().get("field") == field
    assert _counts() == before


@pytest.mark.parametrize(
    "edit",
    [
        '{"verdict": "edit", "edit": {"messages": [{"role": "assistant", "content": "\\ud800"}]}}',
        '{"verdict": "edit", "edit": ' + NESTED_70 + "}",
        '{"verdict": "edit", "edit": [1, 2]}',
        '{"verdict": "edit", "edit": "tiers"}',
        '{"verdict": "edit", "edit": {"tiers": [[1]], "seconds": "soon"}}',
    ],
    ids=["surrogate", "nested", "list", "string", "seconds"],
)
def test_a_review_edit_refuses_hostile_json(world: World, no_traceback, edit: str):
    done = Ranking.objects.get().assignment_id
    before = _counts()
    response = _api(world.people["reviewer"]).post(
        f"/api/assignments/{done}/reviews/", edit, content_type="application/json"
    )
    assert response.status_code == 400, response.content[:300]
    assert _counts() == before


def test_a_huge_page_number_is_the_last_page_not_an_error(world: World, no_traceback):
    client = Client()
    client.force_login(world.people["reviewer"])
    project = world.project.pk
    for page in ["9" * 30, "-5", "1e400", "9" * 5001]:
        response = client.get(f"/projects/{project}/review/?page={page}&show=all")
        assert response.status_code == 200, page


def test_a_nul_in_a_corpus_query_is_a_400_with_its_reason(world: World, no_traceback):
    client = Client()
    client.force_login(world.people["admin"])
    response = client.get(f"/projects/{world.project.pk}/corpus/?q=a%00b")
    assert response.status_code == 400
    assert "control characters such as NUL" in response.content.decode()


def _import(world: World, which: str, lines: list[str]) -> Any:
    upload = io.BytesIO(("\n".join(lines) + "\n").encode())
    upload.name = f"{which}.jsonl"
    url = f"/api/projects/{world.project.pk}/import/{which}/"
    return _api(world.people["admin"]).post(url, {"file": upload}, format="multipart")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (str(2**40), "sample_index must be between 0 and"),
        ("1e400", "infinity"),
        ("1.7", "sample_index must be a whole number"),
        ('"1.7"', "sample_index must be a whole number"),
        ("true", "sample_index must be a whole number"),
        ("-1", "sample_index must be between 0 and"),
        (BIG_NUMBER, "infinity"),
    ],
)
def test_a_candidate_import_refuses_a_sample_index_that_is_not_an_index(
    world: World, no_traceback, value: str, reason: str
):
    prompt = Prompt.objects.filter(project=world.project).first()
    before = _counts()
    good = json.dumps({"prompt_external_id": prompt.external_id, "text": "fine", "sample_index": 90})
    bad = f'{{"prompt_external_id": "{prompt.external_id}", "text": "x", "sample_index": {value}}}'
    response = _import(world, "candidates", [good, bad])
    assert response.status_code == 400, response.content[:300]
    assert response.json()["lines"][0]["line"] == 2 and reason in response.json()["lines"][0]["reason"]
    assert _counts() == before


@pytest.mark.parametrize(
    "metadata",
    ['{"score": NaN}', '{"score": 1e400}', '{"score": ' + BIG_NUMBER + "}", '{"note": "\\ud800"}', NESTED_70],
    ids=["nan", "inf", "5001-digits", "surrogate", "nested"],
)
def test_a_prompt_import_refuses_unstorable_metadata(world: World, no_traceback, metadata: str):
    before = _counts()
    response = _import(
        world, "prompts", ['{"prompt": "fine"}', '{"prompt": "hi", "metadata": ' + metadata + "}"]
    )
    assert response.status_code == 400, response.content[:300]
    assert [line["line"] for line in response.json()["lines"]] == [2]
    assert _counts() == before


@pytest.mark.parametrize(
    ("tiers", "reason"),
    [
        (NESTED_70, "nested deeper than 64"),
        ("NaN", "invalid JSON"),
        ('[["\\ud800"]]', "invalid JSON"),
        ("[[1e400]]", "invalid JSON"),
    ],
)
def test_the_gold_ranking_form_refuses_hostile_json(world: World, no_traceback, tiers: str, reason: str):
    client = Client()
    client.force_login(world.people["admin"])
    task = world.ids["task_id"]
    response = client.post(f"/projects/{world.project.pk}/quality/labelers/", {"task": task, "tiers": tiers})
    assert response.status_code == 400 and reason in response.content.decode()
    assert not world.project.tasks.filter(is_gold=True).exists()


SETTINGS = {
    "near_duplicate_threshold": "0.9",
    "keep_rule": "first",
    "decontam_long_ngram": "13",
    "decontam_short_ngram": "8",
    "decontam_short_text_words": "50",
    "phone_region": "US",
}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("min_words", "many", "Fewest words: Enter a whole number."),
        ("min_words", "1e400", "Fewest words: Enter a whole number."),
        ("max_words", str(2**40), "Most words: Ensure this value is less than or equal to 2147483647."),
        ("min_mean_word_length", "NaN", "Shortest mean word length: Enter a number."),
        (
            "min_mean_word_length",
            "-1",
            "Shortest mean word length: Ensure this value is greater than or equal",
        ),
        (
            "max_bullet_line_fraction",
            "1.5",
            "Most lines starting with a bullet (share): Ensure this value is less",
        ),
        (
            "max_top_ngram_char_fraction_2",
            "5",
            "Most frequent 2-gram (share of characters): Ensure this value",
        ),
        (
            "max_duplicate_ngram_char_fraction_7",
            "inf",
            "Repeated 7-grams (share of characters): Enter a number.",
        ),
    ],
)
def test_cleaning_settings_refuse_a_threshold_out_of_range_naming_it(
    world: World, no_traceback, field: str, value: str, reason: str
):
    client = Client()
    client.force_login(world.people["admin"])
    stored = quality_thresholds_for(cleaning_settings_get(project=world.project))
    response = client.post(f"/projects/{world.project.pk}/curation/settings", SETTINGS | {field: value})
    assert response.status_code == 400 and reason in response.content.decode()
    assert quality_thresholds_for(cleaning_settings_get(project=world.project)) == stored
    assert client.post(f"/projects/{world.project.pk}/curation/run").status_code == 302  # cleaning still runs
