import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from curation.practice_models import GoldAnswer, PracticeRun, PracticeSet, ProbeRun, ProbeSet
from labeling.models import Role, Task
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from tests.conftest import jsonl, seed_rankings
from trainer_bridge.models import ModelVersion


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _upload(name: str, rows: list[dict]) -> dict:
    return {"name": name, "file": SimpleUploadedFile("set.jsonl", jsonl(rows).getvalue())}


@pytest.fixture
def ranked(make_project, add_member, admin):
    """Two labelers rank the same three tasks: ann in id order, bob the reverse on the last task only."""
    project = make_project(overlap=2, k=4)
    task_ids = seed_rankings(project, 3)
    ann, bob = add_member(project, "ann"), add_member(project, "bob")
    for labeler in (ann, bob):
        while (assignment := claim_next_task(project=project, labeler=labeler)) is not None:
            ids = sorted(Task.objects.get(pk=assignment.task_id).candidate_ids)
            if labeler == bob and assignment.task_id == task_ids[-1]:
                ids.reverse()
            ratings = [{"candidate": c, "overall": 1 + i} for i, c in enumerate(ids)]
            ranking_submit(
                assignment_id=assignment.pk, labeler=labeler, tiers=[[c] for c in ids], ratings=ratings
            )
    return project


@pytest.mark.parametrize("page", ["agreement", "labelers", "probes", "practice-sets"])
def test_quality_pages_are_for_reviewers_and_admins(ranked, add_member, make_user, page):
    url = reverse(f"quality:{page}", args=[ranked.pk])
    assert _client(add_member(ranked, "ann")).get(url).status_code == 403
    assert _client(make_user("stranger")).get(url).status_code == 404
    assert _client(add_member(ranked, "rita", Role.REVIEWER)).get(url).status_code == 200
    assert Client().get(url).status_code == 302  # to the login page


def test_agreement_page_shows_project_and_labeler_figures_with_plots(ranked, admin):
    page = _client(admin).get(reverse("quality:agreement", args=[ranked.pk])).content.decode()
    # 3 tasks x 6 pairs; bob reverses the last task: 12 of 18 pairs agree
    assert "<dd data-tasks-compared>3</dd>" in page
    assert "<dd data-pairwise>67%</dd>" in page
    assert "<dd data-tau>0.333</dd>" in page  # (1 + 1 - 1) / 3
    assert 'data-labeler="ann"' in page and 'data-labeler="bob"' in page
    assert page.count("<svg") == 3


def test_labelers_page_shows_scores_and_admins_set_the_gold_rate(ranked, admin, add_member):
    task = Task.objects.filter(project=ranked).order_by("id").first()
    url = reverse("quality:labelers", args=[ranked.pk])
    tiers = json.dumps([[c] for c in sorted(task.candidate_ids)])
    assert _client(admin).post(url, {"task": task.pk, "tiers": "[[1]]"}).status_code == 400
    assert _client(admin).post(url, {"task": task.pk, "tiers": tiers}).status_code == 302
    assert GoldAnswer.objects.get(task=task).tiers == json.loads(tiers)
    reviewer = _client(add_member(ranked, "rita", Role.REVIEWER))
    assert reviewer.post(url, {"gold_rate": "0.5"}).status_code == 403
    response = _client(admin).post(url, {"gold_rate": "0.5"})
    assert response.status_code == 302
    assert Task.objects.get(pk=task.pk).is_gold
    assert _client(admin).post(url, {"gold_rate": "2"}).status_code == 400
    page = _client(admin).get(url).content.decode()
    assert "1 gold task now" in page and page.count("data-score>") == 2


def test_uploads_report_bad_lines_store_nothing_and_escape_what_they_show(project, admin):
    url = reverse("quality:probes", args=[project.pk])
    client = _client(admin)
    bad = client.post(
        url, _upload("facts", [{"question": "q?", "reference": "r"}, {"question": "no reference"}])
    )
    assert bad.status_code == 400 and '<td class="num">2</td>' in bad.content.decode()
    assert not ProbeSet.objects.exists()

    rows = [{"question": "<script>alert(1)</script>?", "reference": "<b>r</b>"}]
    assert client.post(url, _upload("facts", rows)).status_code == 302
    probe_set = ProbeSet.objects.get()
    page = client.get(reverse("quality:probe-set", args=[project.pk, probe_set.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;?" in page and "<script>alert" not in page

    practice_url = reverse("quality:practice-sets", args=[project.pk])
    ok = client.post(
        practice_url, _upload("arith", [{"problem": "1+1?", "answer": "2", "verifier": "numeric"}])
    )
    assert ok.status_code == 302 and PracticeSet.objects.filter(name="arith").exists()


def test_posts_without_a_csrf_token_are_refused(project, admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(
        reverse("quality:probes", args=[project.pk]), _upload("facts", [{"question": "q", "reference": "r"}])
    )
    assert response.status_code == 403
    assert not ProbeSet.objects.exists()


def test_admins_start_probe_and_practice_runs_from_the_set_pages(project, admin, add_member):
    version = ModelVersion.objects.create(name="base", kind="base", path="/models/base")
    client = _client(admin)
    client.post(
        reverse("quality:probes", args=[project.pk]), _upload("facts", [{"question": "q", "reference": "r"}])
    )
    client.post(
        reverse("quality:practice-sets", args=[project.pk]),
        _upload("math", [{"problem": "p", "answer": "a"}]),
    )
    probe_url = reverse("quality:probe-set", args=[project.pk, ProbeSet.objects.get().pk])
    practice_url = reverse("quality:practice-set", args=[project.pk, PracticeSet.objects.get().pk])
    form = {"model_version": version.pk, "samples": 4, "max_new_tokens": 32, "temperature": 1.0, "seed": 3}

    reviewer = _client(add_member(project, "rita", Role.REVIEWER))
    assert reviewer.post(probe_url, form | {"judge": "exact"}).status_code == 403
    assert client.post(probe_url, form | {"judge": "exact"}).status_code == 302
    assert client.post(practice_url, form).status_code == 302
    assert client.post(practice_url, form | {"samples": 0}).status_code == 400

    probe_run, practice_run = ProbeRun.objects.get(), PracticeRun.objects.get()
    assert (probe_run.model_path, probe_run.model_version_id, probe_run.samples, probe_run.judge) == (
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
