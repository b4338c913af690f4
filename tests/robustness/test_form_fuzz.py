"""Every form on every page, posted with generated bad values by the people who see it: never a 5xx.

The forms are found the way a person finds them: every page of the URL configuration is fetched as the
admin, the reviewer and the labeler, and each POST form on it is read from the HTML (its fields, their
current values, its file inputs). Hypothesis (derandomized, so every run sends the same values) then
replaces some fields with values drawn from a corpus of what has broken web tiers before: NUL, lone
surrogates in JSON, NaN and 1e400, 5,001-digit numbers, nesting 5,000 deep, huge and negative numbers,
markup, very long text. A response of 500 or more, or an error logged with a traceback, fails the test.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling.models import Ranking
from tests.robustness.test_url_permissions import ENDPOINTS, concrete_urls
from tests.robustness.world import World

pytestmark = pytest.mark.slow

BAD_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "-1",
    "0",
    "1.7",
    "1e400",
    "-1e400",
    "NaN",
    "inf",
    "9" * 5001,
    str(2**31),
    str(2**63),
    "-" + str(2**63),
    "[" * 5000 + "]" * 5000,
    "[" * 70 + "1" + "]" * 70,
    '{"a": NaN}',
    '["\\ud800"]',
    '{"x": "\\u0000"}',
    "[[1]]",
    '{"tiers": [[1, 1]], "seconds": 1e308}',
    "null",
    "true",
    "[]",
    "{}",
    "<script>alert(1)</script>",
    "x" * 200_000,
    "\u202e\u0301",
    "../../../etc/passwd",
    "' OR 1=1 --",
    "🙂" * 500,
    "0:1",
    "99999:99999",
]
BAD_FILES = [
    b"",
    b"\x00\xff\xfe",
    b"[" * 5000,
    b'{"prompt": NaN}\n',
    b"not json\n" * 3,
    "é".encode("latin-1"),
]
SKIPPED_ACTIONS = ("/logout/",)  # logging out ends the session the rest of the test uses


@dataclass
class Form:
    role: str
    page: str
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)  # name -> the values the page would send
    files: list[str] = field(default_factory=list)

    @property
    def destructive(self) -> bool:
        return any(word in self.action for word in ("delete", "remove", "revoke", "password", "release"))


class _FormReader(HTMLParser):
    """POST forms and the values a browser would send for them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page, self.forms, self._form, self._select, self._textarea = page, [], None, None, None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._form = Form(
                role="", page=self.page, action=urljoin(self.page, a.get("action") or self.page)
            )
            self.forms.append(self._form)
        if self._form is None or "name" not in a:
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "file":
                self._form.files.append(name)
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.fields.setdefault(name, []).append(a.get("value", "on"))
                else:
                    self._form.fields.setdefault(name, [])
            elif kind not in ("submit", "button", "image", "reset"):
                self._form.fields.setdefault(name, []).append(a.get("value", ""))
        elif tag == "textarea":
            self._textarea = name
            self._form.fields.setdefault(name, []).append("")
        elif tag == "select":
            self._select = name
            self._form.fields.setdefault(name, [])
        elif tag == "button" and a.get("value"):
            self._form.fields.setdefault(name, []).append(a["value"])

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


class _OptionReader(_FormReader):
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "option" and self._form is not None and self._select:
            a = {k: v or "" for k, v in attrs}
            values = self._form.fields[self._select]
            if "selected" in a or not values:
                values[:] = [a.get("value", "")]
            return
        super().handle_starttag(tag, attrs)


def _pages(world: World) -> Iterator[str]:
    for endpoint in ENDPOINTS:
        if endpoint.is_api:
            continue
        yield from concrete_urls(endpoint, world).values()
    for task_id in Ranking.objects.values_list("task_id", flat=True):  # the review forms of submitted work
        yield reverse("labeling:task-review", args=[task_id])


def discover_forms(world: World, clients: dict[str, Client]) -> list[Form]:
    found: dict[tuple[str, str, tuple[str, ...]], Form] = {}
    for role, client in clients.items():
        for page in _pages(world):
            response = client.get(page)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            reader = _OptionReader(page)
            reader.feed(response.content.decode())
            for form in reader.forms:
                form.role = role
                if form.action.endswith(SKIPPED_ACTIONS):
                    continue
                found.setdefault((role, form.action, tuple(sorted(form.fields))), form)
    return sorted(found.values(), key=lambda f: (f.destructive, f.role, f.action))


def _bad_values(form: Form) -> st.SearchStrategy[dict[str, Any]]:
    names = sorted(form.fields) + form.files
    text = st.one_of(st.sampled_from(BAD_TEXT), st.text(max_size=40))
    value = st.one_of(text, st.lists(text, min_size=2, max_size=3))
    return st.dictionaries(st.sampled_from(names), value, min_size=1, max_size=max(1, len(names)))


def _post(client: Client, form: Form, replaced: dict[str, Any], files: list[bytes]) -> int:
    data: dict[str, Any] = {name: values for name, values in form.fields.items() if values}
    for name, value in replaced.items():
        if name in form.files:
            content = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else files[0]
            data[name] = SimpleUploadedFile("bad.jsonl", content)
        else:
            data[name] = value
    for name in form.files:
        data.setdefault(name, SimpleUploadedFile("bad.jsonl", files[hash(name) % len(files)]))
    return client.post(form.action, data).status_code


EXAMPLES = 25


def _fuzz(form: Form, client: Client, posted: list[int]) -> Any:
    """A Hypothesis test of one form: some fields replaced by bad values, the rest as the page has them."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(replaced=_bad_values(form), files=st.lists(st.sampled_from(BAD_FILES), min_size=1, max_size=1))
    def post_bad_values(replaced: dict[str, Any], files: list[bytes]) -> None:
        status = _post(client, form, replaced, files)
        posted[0] += 1
        assert status < 500, (form.role, form.action, replaced)

    return post_bad_values


def test_every_form_takes_bad_values_without_a_server_error(world: World, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING)
    people = {
        "admin": world.people["admin"],
        "reviewer": world.people["reviewer"],
        "labeler": world.people["labeler"],
    }
    clients = {}
    for role, user in people.items():
        clients[role] = Client()
        clients[role].force_login(user)
    forms = discover_forms(world, clients)
    # The world has pages with forms for every room: labeling, review, curation, jobs, models, accounts.
    assert len(forms) >= 30, [f.action for f in forms]
    assert {f.role for f in forms} == set(people)
    posted = [0]
    for form in forms:
        _fuzz(form, clients[form.role], posted)()

    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks][:5]
    assert posted[0] >= EXAMPLES * len(forms) // 2
