import json

import pytest

from labeling import search
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from tests.browser.ui import login, shot, shots
from tests.factories import seed_rankings

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_sets_up_a_project_and_watches_progress(page, make_project, add_member, admin, tmp_path):
    project = make_project(kinds=["ranking", "search"])
    seed_rankings(project, 6)
    for name in ("lea", "otto"):
        labeler = add_member(project, name)
        for _ in range(2):
            assignment = claim_next_task(project=project, labeler=labeler)
            ranking_submit(
                assignment_id=assignment.pk,
                labeler=labeler,
                tiers=[assignment.task.candidate_ids],
                seconds=45,
            )
    login(page, "ada")
    shots(page, "13-admin-home")

    page.goto(f"/projects/{project.pk}/dashboard/")
    assert page.locator("svg.chart rect").count() == 2
    shots(page, "14-dashboard")

    page.goto(f"/projects/{project.pk}/settings/")
    shot(page, "15-project-settings")

    bad = tmp_path / "prompts.jsonl"
    bad.write_text(json.dumps({"external_id": "x1", "prompt": "Fine?"}) + "\n{broken\n")
    page.goto(f"/projects/{project.pk}/import/")
    page.get_by_label("File").set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    report = page.locator("[data-line-errors]")
    assert "1 bad line(s); nothing was imported" in report.inner_text()
    assert "2" in report.locator("td.num").first.inner_text()
    shots(page, "16-import-error-report")

    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        json.dumps(
            {"title": "Tides", "url": "https://example.org/tides", "text": "The moon pulls the tides."}
        )
    )
    page.goto(f"/projects/{project.pk}/corpus/")
    page.get_by_label("Name").fill("oceans")
    page.get_by_label("File").set_input_files(str(docs))
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("Corpus oceans: 1 documents stored.").wait_for()
    page.get_by_label("Query").fill("moon")
    page.get_by_role("button", name="Search").click()
    assert page.locator(".results mark").first.inner_text().lower() == "moon"
    shot(page, "17-search-corpus")
    assert search.search_documents(project_id=project.pk, query="tide")  # stemmed: tides
