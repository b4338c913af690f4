"""The probe and practice set pages: upload a set, start a run on it, read its results."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from curation.models import PracticeSet, ProbeSet
from labeling.models import Role
from registry.models import ModelVersion
from tests.factories import jsonl
from trainer_bridge.models import PracticeRun, ProbeRun


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _upload(name: str, rows: list[dict]) -> dict:
    return {"name": name, "file": SimpleUploadedFile("set.jsonl", jsonl(rows).getvalue())}


def test_uploads_report_bad_lines_store_nothing_and_escape_what_they_show(project, admin):
    url = reverse("jobs:probes", args=[project.pk])
    client = _client(admin)
    bad = client.post(
        url, _upload("facts", [{"question": "q?", "reference": "r"}, {"question": "no reference"}])
    )
    assert bad.status_code == 400 and '<td class="num">2</td>' in bad.content.decode()
    assert not ProbeSet.objects.exists()

    rows = [{"question": "<script>alert(1)</script>?", "reference": "<b>r</b>"}]
    assert client.post(url, _upload("facts", rows)).status_code == 302
    probe_set = ProbeSet.objects.get()
    page = client.get(reverse("jobs:probe-set", args=[project.pk, probe_set.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;?" in page and "<script>alert" not in page

    practice_url = reverse("jobs:practice-sets", args=[project.pk])
    ok = client.post(
        practice_url, _upload("arith", [{"problem": "1+1?", "answer": "2", "verifier": "numeric"}])
    )
    assert ok.status_code == 302 and PracticeSet.objects.filter(name="arith").exists()


def test_posts_without_a_csrf_token_are_refused(project, admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(
        reverse("jobs:probes", args=[project.pk]), _upload("facts", [{"question": "q", "reference": "r"}])
    )
    assert response.status_code == 403
    assert not ProbeSet.objects.exists()


def test_admins_start_probe_and_practice_runs_from_the_set_pages(project, admin, add_member):
    version = ModelVersion.objects.create(name="base", kind="base", path="/models/base")
    client = _client(admin)
    client.post(
        reverse("jobs:probes", args=[project.pk]), _upload("facts", [{"question": "q", "reference": "r"}])
    )
    client.post(
        reverse("jobs:practice-sets", args=[project.pk]),
        _upload("math", [{"problem": "p", "answer": "a"}]),
    )
    probe_url = reverse("jobs:probe-set", args=[project.pk, ProbeSet.objects.get().pk])
    practice_url = reverse("jobs:practice-set", args=[project.pk, PracticeSet.objects.get().pk])
    form = {"model_version": version.pk, "samples": 4, "max_new_tokens": 32, "temperature": 1.0, "seed": 3}

    reviewer = _client(add_member(project, "rita", Role.REVIEWER))
    assert reviewer.post(probe_url, form | {"judge": "exact"}).status_code == 403
    assert client.post(probe_url, form | {"judge": "exact"}).status_code == 302
    assert client.post(practice_url, form).status_code == 302
    assert client.post(practice_url, form | {"samples": 0}).status_code == 400

    probe_run, practice_run = ProbeRun.objects.get(), PracticeRun.objects.get()
    assert (probe_run.model().path, probe_run.model_version_id, probe_run.samples, probe_run.judge) == (
        "/models/base",
        version.pk,
        4,
        "exact",
    )
    assert (practice_run.model_name, practice_run.seed, practice_run.status) == (
        f"base@{version.pk}",
        3,
        "queued",
    )
    assert f"#{probe_run.pk}" in client.get(probe_url).content.decode()


def test_the_practice_upload_form_sets_the_held_out_split(project, admin):
    client = _client(admin)
    rows = [
        {"problem": f"What is {a} plus 1?", "answer": str(a + 1), "verifier": "numeric"} for a in range(30)
    ]
    url = reverse("jobs:practice-sets", args=[project.pk])
    bad = client.post(url, _upload("sums", rows) | {"seed": "1", "validation_fraction": "1.5"})
    assert bad.status_code == 400 and not PracticeSet.objects.exists()

    assert (
        client.post(url, _upload("sums", rows) | {"seed": "11", "validation_fraction": "0.4"}).status_code
        == 302
    )
    practice_set = PracticeSet.objects.get()
    assert (practice_set.split_seed, practice_set.validation_fraction) == (11, 0.4)
    held_out = practice_set.problems.filter(split="validation").count()
    page = client.get(reverse("jobs:practice-set", args=[project.pk, practice_set.pk])).content.decode()
    assert f"{30 - held_out} training problems, {held_out} held out for validation" in page
    assert 0 < held_out < 30
