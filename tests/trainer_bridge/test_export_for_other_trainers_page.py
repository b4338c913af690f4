"""The Exports page lays a snapshot's export out for TRL, verl or OpenRLHF, and lists practice-set exports."""

from pathlib import Path

import pyarrow.parquet as pq
from django.test import Client

from curation.practice import practice_set_upload
from tests.factories import jsonl
from trainer_bridge.jobs.lifecycle import job_run
from trainer_bridge.models import ExportJob
from trainer_bridge.services.exports import practice_export_job_start


def test_the_exports_page_exports_prompts_for_verl_and_lists_practice_set_exports(
    snapshot, labeled, add_member, admin, settings, tmp_path
):
    settings.EXPORT_ROOT = tmp_path
    rita = Client()
    rita.force_login(add_member(labeled, "rita", "reviewer"))
    page = rita.get(f"/projects/{labeled.pk}/exports/").content.decode()
    assert '<option value="verl">verl (prompts, Parquet)</option>' in page

    form = {"kind": "prompts", "layout": "verl", "format": "parquet", "split": "validation"}
    assert rita.post(f"/snapshots/{snapshot.pk}/exports/", form).status_code == 302
    job = ExportJob.objects.get()
    assert job.options["layout"] == "verl" and job.options["split"] == "validation"
    job_run(job_id=job.pk)
    job.refresh_from_db()
    rows = pq.read_table(job.file_path).to_pylist()
    assert rows and {r["extra_info"]["split"] for r in rows} == {"validation"}

    refused = rita.post(
        f"/snapshots/{snapshot.pk}/exports/",
        {"kind": "rm", "layout": "openrlhf", "mode": "kwise", "format": "jsonl", "split": "all"},
        follow=True,
    )
    assert "OpenRLHF reads pairwise rows" in refused.content.decode()
    assert ExportJob.objects.count() == 1

    problems = practice_set_upload(
        project=labeled, name="sums", stream=jsonl([{"problem": "1+1?", "answer": "2"}]), uploaded_by=admin
    )
    practice_job, _ = practice_export_job_start(
        practice_set=problems, kind="problems", options=None, user=admin
    )
    page = rita.get(f"/projects/{labeled.pk}/exports/").content.decode()
    assert "</strong> of practice set sums<br>" in page and "</strong> of snapshot everything v1<br>" in page
    assert Path(practice_job.file_path).name.startswith("sums-problems-")
