import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from curation.models import GoldAnswer
from curation.quality.agreement import PairCounts, project_agreement, reviewer_agreement
from curation.quality.labelers import labeler_quality
from labeling.models import Assignment, Role, Task
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from labeling.services.review import review_create
from tests.factories import jsonl, seed_rankings


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


@pytest.mark.parametrize(
    "page", ["quality:agreement", "quality:labelers", "jobs:probes", "jobs:practice-sets"]
)
def test_quality_pages_are_for_reviewers_and_admins(ranked, add_member, make_user, page):
    url = reverse(page, args=[ranked.pk])
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


def test_a_reviewer_edit_is_not_counted_as_a_labeler_and_keeps_the_labeler_in_the_figures(
    ranked, admin, add_member
):
    """rhea reverses ann's first ranking: ann and bob are still the two labelers, compared on what they
    submitted (12 of 18 pairs agree), and rhea's edit shows in its own table: 0 of 6 pairs kept."""
    rhea = add_member(ranked, "rhea", Role.REVIEWER)
    edited, accepted = Assignment.objects.filter(task__project=ranked, labeler__username="ann").order_by(
        "id"
    )[:2]
    tiers = [[c] for c in sorted(edited.task.candidate_ids, reverse=True)]
    review_create(assignment_id=edited.pk, reviewer=rhea, verdict="edit", edit={"tiers": tiers})
    review_create(assignment_id=accepted.pk, reviewer=rhea, verdict="accept")

    report = project_agreement(project=ranked)
    quality = {q.username: q for q in labeler_quality(project=ranked)}
    page = _client(admin).get(reverse("quality:agreement", args=[ranked.pk])).content.decode()

    assert [row.username for row in report.labelers] == ["ann", "bob"]
    assert report.pairs == PairCounts(agree=12, disagree=6, tied=0)
    assert {row.username: row.rankings for row in report.labelers} == {"ann": 3, "bob": 3}
    assert set(quality) == {"ann", "bob"} and quality["ann"].annotations == 3
    assert "<dd data-pairwise>67%</dd>" in page and 'data-labeler="rhea"' not in page
    [row] = reviewer_agreement(project=ranked)
    assert (row.reviewer, row.labeler, row.accepted, row.edited, row.rejected) == ("rhea", "ann", 1, 1, 0)
    assert row.pairs == PairCounts(agree=0, disagree=6, tied=0)
    assert '<tr data-reviewer="rhea" data-labeler="ann"><td>rhea</td><td>ann</td>' in page
    assert '0% <small class="muted">of 6</small>' in page
