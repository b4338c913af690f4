"""Exports of replies that started from a model draft: "edited over draft" preference pairs in the reward
model / DPO export, and drafts submitted unchanged left out of SFT when asked; on a known example."""

import json

import pyarrow.parquet as pq
import pytest

from core.errors import DomainError
from curation.selectors import snapshot_rows
from curation.snapshots import snapshot_freeze
from labeling.models import Prompt, ReplyDraft, Task
from labeling.services.annotations import demonstration_submit, ranking_submit
from labeling.services.queue import claim_next_task
from labeling.services.review import review_create
from registry.models import ModelVersion
from tests.factories import by_text, import_prompts, seed_rankings
from trainer_bridge.exports import export_rm, export_sft
from trainer_bridge.exports.core import export_options, run_export

# prompt → (the model's draft, the labeler's reply); the third is written with no draft
REPLIES = {
    "Describe a lighthouse.": (
        "A lighthouse is a tower.",
        "A lighthouse is a tower with a lamp that guides ships.",
    ),
    "Name a prime number.": ("Seven is a prime number.", "Seven is a prime number."),  # kept as it was
    "Say hello.": (None, "Hello!"),
    # kept by the labeler, then edited by the reviewer: no longer the model's words in the snapshot
    "Count to three.": ("One, two, three.", "One, two, three."),
}
REVIEWED = "One, two, three!"


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def drafted_snapshot(make_project, add_member, admin):
    project = make_project(kinds=["ranking", "demonstration"])
    seed_rankings(project, 1)  # one ranking of 4: 6 pairs
    import_prompts(project, list(REPLIES), "demonstration")
    drafter = ModelVersion.objects.create(name="drafter", kind="base", path="/nowhere")
    lea, rita = add_member(project, "lea"), add_member(project, "rita", "reviewer")
    while (assignment := claim_next_task(project=project, labeler=lea)) is not None:
        task = Task.objects.select_related("prompt").get(pk=assignment.task_id)
        if task.kind == "ranking":
            ranking_submit(assignment_id=assignment.pk, labeler=lea, tiers=by_text(task))
        else:
            draft, reply = REPLIES[task.prompt.messages[-1]["content"]]
            shown = (
                ReplyDraft.objects.create(prompt=task.prompt, model_version=drafter, text=draft)
                if draft
                else None
            )
            demonstration_submit(
                assignment_id=assignment.pk,
                labeler=lea,
                messages=[{"role": "assistant", "content": reply}],
                model_draft=shown.pk if shown else None,
            )
        edit = None
        if task.kind != "ranking" and task.prompt.messages[-1]["content"] == "Count to three.":
            edit = {"messages": [{"role": "assistant", "content": REVIEWED}]}
        review_create(
            assignment_id=assignment.pk, reviewer=rita, verdict="edit" if edit else "accept", edit=edit
        )
    return snapshot_freeze(project=project, name="drafted", created_by=admin)


def prompt_of(text):
    return Prompt.objects.get(messages__0__content=text)


def test_snapshot_rows_carry_the_draft_a_reply_started_from(drafted_snapshot):
    rows = {
        row["prompt"][-1]["content"]: row
        for row in snapshot_rows(snapshot=drafted_snapshot, kinds=["demonstration"])
    }

    assert rows["Describe a lighthouse."]["model_draft"] == {
        "text": "A lighthouse is a tower.",
        "model": "drafter",
        "model_version_id": ModelVersion.objects.get(name="drafter").pk,
        "unchanged": False,
    }
    assert rows["Name a prime number."]["model_draft"]["unchanged"] is True
    assert rows["Count to three."]["model_draft"]["unchanged"] is False  # the reviewer changed it
    assert "model_draft" not in rows["Say hello."]  # rows with no draft keep the shape (and bytes) they had


def test_edited_over_draft_pairs_join_the_ranking_pairs(drafted_snapshot, tmp_path):
    path = tmp_path / "rm.jsonl"
    run_export(
        snapshot=drafted_snapshot, kind="rm", path=path, options={"edited_over_draft": True, "margin": True}
    )

    rows = read_jsonl(path)
    edited = [row for row in rows if row.get("source") == "edited_over_draft"]
    assert len(rows) == 6 + 2  # the ranking's 6 pairs, and the two replies that differ from their draft
    assert edited == [
        {
            "prompt": [{"role": "user", "content": "Describe a lighthouse."}],
            "chosen": [{"role": "assistant", "content": REPLIES["Describe a lighthouse."][1]}],
            "rejected": [{"role": "assistant", "content": "A lighthouse is a tower."}],
            "margin": 1.0,
            "prompt_id": prompt_of("Describe a lighthouse.").pk,
            "labeler": "lea",
            "source": "edited_over_draft",
            "model": "drafter",
        },
        {
            "prompt": [{"role": "user", "content": "Count to three."}],
            "chosen": [{"role": "assistant", "content": REVIEWED}],
            "rejected": [{"role": "assistant", "content": "One, two, three."}],
            "margin": 1.0,
            "prompt_id": prompt_of("Count to three.").pk,
            "labeler": "lea",
            "source": "edited_over_draft",
            "model": "drafter",
        },
    ]


def test_without_the_option_the_reward_model_export_is_what_it_was(drafted_snapshot, tmp_path):
    rows = read_jsonl(export_rm(snapshot=drafted_snapshot, path=tmp_path / "rm.jsonl").path)

    assert len(rows) == 6 and not any("source" in row for row in rows)
    assert export_options("rm", {}) == {
        "format": "jsonl",
        "split": "all",
        "mode": "pairwise",
        "by": "labeler",
        "margin": False,
    }


def test_edited_over_draft_pairs_in_parquet_and_in_the_openrlhf_layout(drafted_snapshot, tmp_path):
    parquet = tmp_path / "rm.parquet"
    run_export(
        snapshot=drafted_snapshot,
        kind="rm",
        path=parquet,
        options={"format": "parquet", "edited_over_draft": True},
    )
    openrlhf = tmp_path / "rm-openrlhf.jsonl"
    run_export(
        snapshot=drafted_snapshot,
        kind="rm",
        path=openrlhf,
        options={"layout": "openrlhf", "edited_over_draft": "on"},
    )

    table = pq.read_table(parquet).to_pylist()
    lighthouse = next(
        row
        for row in table
        if row["source"] == "edited_over_draft"
        and row["rejected"][0]["content"] == "A lighthouse is a tower."
    )
    assert lighthouse["chosen"][0]["content"] == REPLIES["Describe a lighthouse."][1]
    assert sum(1 for row in table if row["source"] is None) == 6  # the ranking's pairs
    whole = next(row for row in read_jsonl(openrlhf) if row.get("source") == "edited_over_draft")
    assert whole["rejected"] == [
        {"role": "user", "content": "Describe a lighthouse."},
        {"role": "assistant", "content": "A lighthouse is a tower."},
    ]


def test_sft_can_leave_out_drafts_submitted_unchanged(drafted_snapshot, tmp_path):
    every = read_jsonl(export_sft(snapshot=drafted_snapshot, path=tmp_path / "all.jsonl").path)
    kept = run_export(
        snapshot=drafted_snapshot,
        kind="sft",
        path=tmp_path / "kept.jsonl",
        options={"skip_unchanged_drafts": True},
    )

    replies = [row["messages"][-1]["content"] for row in read_jsonl(kept.path)]
    assert len(every) == 4
    assert sorted(replies) == sorted([REPLIES["Describe a lighthouse."][1], "Hello!", REVIEWED])
    assert kept.options == {
        "format": "jsonl",
        "split": "all",
        "kinds": ["chat", "demonstration", "refusal", "search"],
        "skip_unchanged_drafts": True,
    }


@pytest.mark.parametrize(
    ("kind", "options", "field"),
    [
        ("rm", {"mode": "kwise", "edited_over_draft": True}, "edited_over_draft"),
        ("rm", {"edited_over_draft": "maybe"}, "edited_over_draft"),
        ("sft", {"edited_over_draft": True}, "edited_over_draft"),
        ("rm", {"skip_unchanged_drafts": True}, "skip_unchanged_drafts"),
        ("prompts", {"skip_unchanged_drafts": True}, "skip_unchanged_drafts"),
    ],
)
def test_draft_options_where_they_do_not_apply_are_refused_naming_the_field(kind, options, field):
    with pytest.raises(DomainError) as refused:
        export_options(kind, options)
    assert refused.value.field == field


def test_the_api_and_the_exports_page_take_the_draft_options(drafted_snapshot, admin, api, client):
    from trainer_bridge.models import ExportJob

    client.force_login(admin)
    response = api(admin).post(
        f"/api/snapshots/{drafted_snapshot.pk}/exports/",
        {"kind": "rm", "edited_over_draft": True},
        format="json",
    )
    page = client.post(
        f"/snapshots/{drafted_snapshot.pk}/exports/", {"kind": "sft", "skip_unchanged_drafts": "on"}
    )
    refused = api(admin).post(
        f"/api/snapshots/{drafted_snapshot.pk}/exports/",
        {"kind": "rm", "mode": "kwise", "edited_over_draft": True},
        format="json",
    )

    assert response.status_code == 202 and response.json()["options"]["edited_over_draft"] is True
    assert page.status_code == 302
    assert ExportJob.objects.get(kind="sft").options["skip_unchanged_drafts"] is True
    assert refused.status_code == 400 and refused.json()["field"] == "edited_over_draft"
    listed = client.get(f"/projects/{drafted_snapshot.project_id}/exports/").content.decode()
    assert "with edited-over-draft pairs" in listed and "without unchanged drafts" in listed
