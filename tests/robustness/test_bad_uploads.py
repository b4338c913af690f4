"""Hostile files and hostile text: every bad upload is a 400 that says why and stores nothing, and
markup typed into any text field comes back escaped on every page that shows it.

CSV injection: no page or export writes CSV (exports are JSONL and Parquet-free JSON; the import
error report is an HTML table), so there is no CSV output to neutralize.
"""

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from curation.models import EvalSet, PracticeSet, ProbeSet
from curation.snapshots import snapshot_freeze
from guidelines.services import guideline_acknowledge, guideline_publish
from labeling import importing
from labeling.models import (
    Assignment,
    Candidate,
    Demonstration,
    Prompt,
    Review,
    Role,
    SearchCorpus,
    SearchDocument,
)
from labeling.services.projects import membership_set, project_create
from labeling.services.queue import assignment_skip, claim_next_task
from registry.models import ModelVersion
from tests.factories import seed_demonstrations
from tests.robustness.test_url_permissions import ENDPOINTS, concrete_urls
from tests.robustness.world import World, client_as
from trainer_bridge.models import RetrainPolicy

PROMPT = b'{"external_id": "q1", "prompt": "What is a tier?"}\n'
BAD_FILES = {
    "latin-1": ("prompts.jsonl", '{"prompt": "café au lait"}\n'.encode("latin-1"), "not valid UTF-8"),
    "utf-16 with BOM": ("prompts.jsonl", '{"prompt": "tea"}\n'.encode("utf-16"), "not valid UTF-8"),
    "binary": ("prompts.jsonl", bytes(range(256)) * 3, "line"),
    "latin-1 csv": ("prompts.csv", "prompt\ncafé\n".encode("latin-1"), "not valid UTF-8"),
    "one huge line": (
        "prompts.jsonl",
        b'{"prompt": "' + b"x" * 500 + b'"}\n',
        "line longer than 100 bytes",
    ),
    "malformed JSON": ("prompts.jsonl", PROMPT + b'{"prompt": "unclosed\n', "invalid JSON"),
    "NUL character": ("prompts.jsonl", b'{"prompt": "a\\u0000b"}\n', "NUL character"),
    "not JSONL or CSV": ("prompts.xlsx", PROMPT, "unknown file format"),
    "empty": ("prompts.jsonl", b"", "empty"),
    "over the size limit": ("prompts.jsonl", PROMPT * 40, "uploads are limited to 1,000 bytes"),
}


@pytest.fixture
def small_limits(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.MAX_UPLOAD_BYTES = 1000
    monkeypatch.setattr(importing, "MAX_LINE_BYTES", 100)


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_prompt_file_on_the_import_page_is_refused_with_the_reason(
    world: World, small_limits: None, case: str
) -> None:
    name, content, reason = BAD_FILES[case]
    before = Prompt.objects.count()
    response = client_as(world.people["admin"]).post(
        f"/projects/{world.project.pk}/import/",
        {"what": "prompts", "file": SimpleUploadedFile(name, content)},
    )
    assert response.status_code == 400 and reason in response.content.decode()
    assert Prompt.objects.count() == before


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_prompt_file_through_the_api_is_refused_with_the_reason(
    world: World, api: Any, small_limits: None, case: str
) -> None:
    name, content, reason = BAD_FILES[case]
    before = Prompt.objects.count()
    response = api(world.people["admin"]).post(
        f"/api/projects/{world.project.pk}/import/prompts/",
        {"file": SimpleUploadedFile(name, content)},
        format="multipart",
    )
    assert response.status_code == 400 and reason in json.dumps(response.json())
    assert Prompt.objects.count() == before


def test_a_bad_candidate_file_is_refused_line_by_line(world: World, api: Any) -> None:
    content = b'{"prompt_external_id": "p0", "text": "fine"}\n\xff\xfe\n{"prompt_external_id": "p0"}\n'
    before = Candidate.objects.count()
    response = api(world.people["admin"]).post(
        f"/api/projects/{world.project.pk}/import/candidates/",
        {"file": SimpleUploadedFile("answers.jsonl", content)},
        format="multipart",
    )
    assert response.status_code == 400
    assert [line["line"] for line in response.json()["lines"]] == [2, 3]
    assert Candidate.objects.count() == before


NUL_LINES = {
    "corpus/": b'{"title": "t", "url": "", "text": "a\\u0000b"}\n',
    "curation/eval-sets/": b'{"text": "a\\u0000b"}\n',
    "quality/probes/": b'{"question": "q\\u0000", "answer": "a"}\n',
    "quality/practice/": b'{"problem": "p\\u0000", "answer": "1"}\n',
}


@pytest.mark.parametrize(
    "page, fields, model",
    [
        ("corpus/", {"name": "docs"}, SearchCorpus),
        ("curation/eval-sets/", {"name": "held out 2"}, EvalSet),
        ("quality/probes/", {"name": "facts 2"}, ProbeSet),
        ("quality/practice/", {"name": "arith 2"}, PracticeSet),
    ],
)
@pytest.mark.parametrize("bad", ["too big", "NUL"])
def test_other_uploads_refuse_big_files_and_nul_characters(
    world: World, small_limits: None, page: str, fields: dict[str, str], model: Any, bad: str
) -> None:
    if bad == "too big":
        content, reason = NUL_LINES[page] * 100, "uploads are limited to 1,000 bytes"
    elif page == "corpus/":  # a corpus drops control characters, NUL included, from its documents
        response = client_as(world.people["admin"]).post(
            f"/projects/{world.project.pk}/{page}",
            fields | {"file": SimpleUploadedFile("f.jsonl", NUL_LINES[page])},
        )
        assert response.status_code == 302
        assert SearchDocument.objects.get(corpus__name="docs").text == "a b"
        return
    else:
        content, reason = NUL_LINES[page], "NUL"
    before = model.objects.count()
    response = client_as(world.people["admin"]).post(
        f"/projects/{world.project.pk}/{page}", fields | {"file": SimpleUploadedFile("f.jsonl", content)}
    )
    assert response.status_code == 400 and reason in response.content.decode()
    assert model.objects.count() == before


# --- markup in every text field -----------------------------------------------------------------

SCRIPT = '<script>alert("x")</script>'


def _hostile(world: World) -> None:
    """Put markup into every text a person can type that some page shows."""
    project, lea, rhea = world.project, world.people["labeler"], world.people["reviewer"]
    admin = world.people["admin"]
    project.name, project.description = f"world {SCRIPT}", SCRIPT
    project.save()
    for prompt in project.prompts.all():
        prompt.messages = [{"role": "user", "content": f"Prompt {SCRIPT} {prompt.pk}"}]
        prompt.save()
    Candidate.objects.filter(prompt__project=project).update(text=f"Answer {SCRIPT}", model_name=SCRIPT)
    Assignment.objects.filter(task__project=project).update(skip_reason=SCRIPT)
    Review.objects.update(reason=SCRIPT)
    ModelVersion.objects.update(name=f"base {SCRIPT}", description=SCRIPT)
    RetrainPolicy.objects.update(name=f"nightly {SCRIPT}")
    for model in (SearchCorpus, EvalSet, ProbeSet, PracticeSet):
        model.objects.update(name=f"{model.__name__} {SCRIPT}")
    snapshot_freeze(project=project, name=f"snapshot {SCRIPT}", created_by=admin, validation_fraction=0.0)
    guideline_publish(guideline=project.guideline, author=admin, body=f"Rule {SCRIPT}", change_note=SCRIPT)
    guideline_acknowledge(user=rhea, version=project.guideline.versions.order_by("-number").first())
    skipped = claim_next_task(project=project, labeler=rhea)
    if skipped is not None:
        assignment_skip(assignment_id=skipped.pk, labeler=rhea, reason=SCRIPT)
    assert lea.pk and not Demonstration.objects.exists()


def test_markup_in_any_text_field_renders_escaped_on_every_page(world: World) -> None:
    _hostile(world)
    shown = 0
    for role in ("admin", "reviewer", "labeler"):
        client = client_as(world.people[role])
        for endpoint in ENDPOINTS:
            for url in concrete_urls(endpoint, world).values():
                response = client.get(url)
                if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
                    continue
                html = response.content.decode()
                assert SCRIPT not in html, f"{role} {url} shows raw markup"
                shown += "&lt;script&gt;" in html
    assert shown >= 20  # the hostile text did reach the pages


def test_markdown_in_a_guideline_is_rendered_and_sanitized(world: World) -> None:
    body = "# Rules\n\n**Rank** honestly. <script>alert(1)</script> [x](javascript:alert(1))"
    guideline_publish(
        guideline=world.project.guideline,
        author=world.people["admin"],
        body=body + " <img onerror=y>",
        change_note="Hostile markup",
    )
    guideline_acknowledge(
        user=world.people["labeler"], version=world.project.guideline.versions.order_by("-number").first()
    )
    html = client_as(world.people["labeler"]).get(f"/projects/{world.project.pk}/guideline/").content.decode()
    assert "<strong>Rank</strong>" in html and "<h1" in html
    assert "<script>alert(1)" not in html and 'href="javascript:' not in html and "<img onerror" not in html


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "assistant", "content": "before\x00after"}]},
        {"messages": [{"role": "assistant", "content": "fine"}], "tools": [{"\x00": 1}]},
    ],
)
def test_a_submitted_reply_with_a_nul_character_is_refused_naming_the_field(
    world: World, api: Any, body: dict[str, Any]
) -> None:
    lea, admin = world.people["labeler"], world.people["admin"]
    project = project_create(
        name="writing", task_kinds=["demonstration"], created_by=admin, k=4, overlap=1, lease_seconds=600
    )
    seed_demonstrations(project, 1)
    membership_set(project=project, user=lea, role=Role.LABELER)
    assignment = claim_next_task(project=project, labeler=lea)
    response = api(lea).post(f"/api/assignments/{assignment.pk}/submit/", body, format="json")
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    assert response.json()["field"] == next(k for k in body if "\\u0000" in json.dumps(body[k]))
    assert not Demonstration.objects.exists()
