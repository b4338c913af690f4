"""The admin's pages on a laptop (1440x900) and a phone (390x844): one row of project tabs, nothing wider
than the screen, a job's log and curves inside it; and a job page that stops offering Cancel once the
job is done. Each page is kept as a screenshot at both sizes."""

import re

import pytest

from curation.snapshots import snapshot_freeze
from registry.models import ModelVersion
from tests.browser.ui import SIZES, login, shot
from tests.factories import rank_all, review_all, seed_demonstrations, seed_rankings
from trainer_bridge.models import JobMetric, JobStatus, JobType, ModelOrigin, TrainingJob
from trainer_bridge.services.exports import export_job_start

pytestmark = pytest.mark.django_db(transaction=True)

LONG_NAME = "Helpful answers for the customer assistant (demo)"


@pytest.fixture
def worked(make_project, add_member, admin):
    """A project with a long name, labeled, reviewed, frozen with no validation split, exported, one
    training job with curves and a long log, and the reward model it made."""
    project = make_project(name=LONG_NAME, overlap=2)
    seed_rankings(project, 4)
    seed_demonstrations(project, 2)
    rhea = add_member(project, "rhea", "reviewer")
    review_all(rank_all(project, add_member(project, "lea")), rhea)
    rank_all(project, add_member(project, "otto"))
    snapshot = snapshot_freeze(project=project, name="v1", created_by=admin, validation_fraction=0.0)
    export_job_start(snapshot=snapshot, kind="rm", options={"mode": "kwise"}, user=admin)
    base = ModelVersion.objects.create(name="tiny-base", kind="base", path="/models/tiny-base")
    rm = ModelVersion.objects.create(
        name="customer-rm-1",
        kind="rm",
        path="/models/customer-rm-1",
        parent=base,
        project=project,
        metrics={"val_pair_accuracy": 0.8240740740740741, "train_loss": 0.41234567891},
    )
    ModelOrigin.objects.create(model=rm, snapshot=snapshot)
    job = TrainingJob.objects.create(
        type=JobType.TRAINING,
        kind="rm",
        project=project,
        snapshot=snapshot,
        model_version=base,
        output_model=rm,
        config={"lr": 0.0003, "max_steps": 40, "groups_per_batch": 4},
        data_options={"by": "labeler"},
        output_name="customer-rm-1",
        output_dir="/models/training/job-1-customer-rm-1",
        status=JobStatus.RUNNING,
        progress_done=30,
        progress_total=40,
        log="\n".join(
            [
                "24 training and 0 validation rankings from snapshot v1",
                "training from /models/tiny-base into /" + "very-long-directory-name" * 12,
                *[f"step {n}/40: train_loss {2.5 - n / 20:.4g}" for n in range(5, 35, 5)],
            ]
        ),
    )
    JobMetric.objects.bulk_create(
        [
            JobMetric(job=job, step=n, values={"train_loss": 2.5 - n / 20, "val_loss": 2.6 - n / 25})
            for n in range(5, 35, 5)
        ]
    )
    return project, job, rm


def _too_wide(page) -> list[str]:
    """The elements that reach past the right edge, outside the boxes that scroll on purpose."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll("body *"))
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1
                && !el.closest(".table-scroll, nav.tabs, .segmented"))
            .slice(0, 8).map(el => el.tagName + "." + el.className)"""
    )


def _fits(page) -> None:
    """One row of project tabs, and no part of the page wider than the screen."""
    width = page.evaluate("() => window.innerWidth")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width, (page.url, _too_wide(page))
    tabs = page.locator("nav.tabs").first
    link = tabs.locator("a").first
    assert tabs.bounding_box()["height"] < 2 * link.bounding_box()["height"], page.url  # one row
    if width >= 1440:  # on a laptop every tab shows, a long project name gives way
        assert tabs.evaluate("nav => nav.scrollWidth <= nav.clientWidth"), page.url


def test_every_admin_page_fits_a_phone_and_a_laptop_with_one_row_of_tabs(page, worked):
    project, job, rm = worked
    login(page, "ada")
    pages = {
        "30-admin-home": "/",
        "31-dashboard": f"/projects/{project.pk}/dashboard/",
        "32-exports": f"/projects/{project.pk}/exports/",
        "33-curation": f"/projects/{project.pk}/curation/",
        "34-import": f"/projects/{project.pk}/import/",
        "35-jobs": f"/projects/{project.pk}/jobs/",
        "36-training-job": f"/jobs/training/{job.pk}/",
        "37-model": f"/projects/{project.pk}/models/{rm.pk}/",
        "37-model-labels": f"/projects/{project.pk}/models/{rm.pk}/labels/",
        "38-quality-agreement": f"/projects/{project.pk}/quality/agreement/",
        "39-quality-labelers": f"/projects/{project.pk}/quality/labelers/",
        "40-review-queue-admin": f"/projects/{project.pk}/review/",
    }
    for name, url in pages.items():
        page.goto(url)
        for label, size in SIZES.items():
            page.set_viewport_size(size)
            if name != "30-admin-home":
                _fits(page)
            else:
                assert page.evaluate("() => document.documentElement.scrollWidth") <= size["width"]
            shot(page, f"{name}-{label}")

    page.set_viewport_size(SIZES["phone"])
    page.goto(f"/jobs/training/{job.pk}/")
    log = page.locator(".job-log")
    assert log.bounding_box()["width"] <= 390 and "very-long-directory-name" in log.inner_text()
    for chart in page.locator(".curves svg.chart").all():
        box = chart.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    current = page.locator('nav.tabs a[aria-current="page"]')
    assert current.inner_text() == "Jobs"
    box = current.bounding_box()
    assert 0 <= box["x"] and box["x"] + box["width"] <= 390  # the row starts where the current tab shows


def test_the_job_page_stops_offering_cancel_once_the_job_is_done(page, worked):
    _, job, _ = worked
    login(page, "ada")
    page.goto(f"/jobs/training/{job.pk}/")
    assert page.get_by_role("button", name="Cancel").is_visible()
    assert "Snapshot v1 has no validation rankings" in page.locator("[data-no-validation]").inner_text()

    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.DONE, progress_done=40)

    page.locator('.job-live[data-status="done"]').wait_for()  # the live part refreshes every 2 s
    assert page.get_by_role("button", name="Cancel").count() == 0
    assert page.get_by_role("button", name="Retry").count() == 0
    assert re.search(r"\bdone\b", page.locator(".job-status").inner_text())


def test_the_exports_page_reads_in_words(page, worked):
    project, _, _ = worked
    login(page, "ada")
    page.goto(f"/projects/{project.pk}/exports/")
    text = page.locator("main").inner_text()
    assert "unreviewedallowed" not in text and "['" not in text
    assert "JSONL · all splits · kwise · by labeler" in text
    page.get_by_label("Export").first.select_option("rm")
    assert page.locator('[data-for-kind="rm"]').first.is_visible()
    assert not page.locator('[data-for-kind="sft"]').first.is_visible()
