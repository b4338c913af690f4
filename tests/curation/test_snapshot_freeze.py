import json
from datetime import timedelta

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from curation.models import DatasetSnapshot, SnapshotRow
from curation.selectors import snapshot_content_sha256, snapshot_rows
from curation.snapshots import SnapshotEmpty, canonical_json, snapshot_freeze
from labeling.models import Assignment
from labeling.services.review import review_create
from tests.factories import import_prompts, rank_all, review_all, seed_rankings


@pytest.fixture
def reviewed(project, add_member):
    """lea and otto rank 3 tasks each: lea's are accepted; otto's: one rejected, one accepted, one left."""
    seed_rankings(project, 6)
    lea, otto = add_member(project, "lea"), add_member(project, "otto")
    rita = add_member(project, "rita", "reviewer")
    lea_work = rank_all_limited(project, lea, 3)
    otto_work = rank_all(project, otto)
    review_all(lea_work, rita, "accept")
    review_all(otto_work[:1], rita, "reject")
    review_all(otto_work[1:2], rita, "accept")
    return {"lea": lea_work, "otto": otto_work, "rita": rita}


def rank_all_limited(project, labeler, n):
    from labeling.services.annotations import ranking_submit
    from labeling.services.queue import claim_next_task
    from tests.factories import by_text

    done = []
    for _ in range(n):
        assignment = claim_next_task(project=project, labeler=labeler)
        ranking_submit(assignment_id=assignment.pk, labeler=labeler, tiers=by_text(assignment.task))
        done.append(assignment)
    return done


def test_by_default_a_snapshot_takes_only_accepted_work(project, admin, reviewed):
    snapshot = snapshot_freeze(project=project, name="v1", created_by=admin)

    rows = list(snapshot_rows(snapshot=snapshot))
    accepted = {a.pk for a in reviewed["lea"]} | {reviewed["otto"][1].pk}
    assert {row["assignment_id"] for row in rows} == accepted
    assert all(row["verdict"] == "accept" for row in rows)


def test_unreviewed_allowed_adds_unreviewed_work_but_never_rejected_work(project, admin, reviewed):
    snapshot = snapshot_freeze(project=project, name="v1", verdict="unreviewed_allowed")

    got = {row["assignment_id"] for row in snapshot_rows(snapshot=snapshot)}
    rejected = reviewed["otto"][0].pk
    assert rejected not in got
    assert got == {a.pk for a in Assignment.objects.filter(task__project=project)} - {rejected}


def test_an_edit_counts_as_accepted_with_the_edited_revision(project, reviewed):

    assignment = reviewed["otto"][2]  # unreviewed so far
    task = assignment.task
    edited = [list(reversed(task.candidate_ids))]  # the reviewer ties every candidate
    review_create(
        assignment_id=assignment.pk, reviewer=reviewed["rita"], verdict="edit", edit={"tiers": edited}
    )

    snapshot = snapshot_freeze(project=project, name="v1")
    row = next(r for r in snapshot_rows(snapshot=snapshot) if r["assignment_id"] == assignment.pk)
    assert row["tiers"] == edited and row["revision"] == 2
    assert row["labeler"] == "otto" and row["edited_by"] == "rita" and row["verdict"] == "edit"


def test_a_ranking_row_is_a_self_contained_copy(project, reviewed):
    snapshot = snapshot_freeze(project=project, name="v1")
    row = next(snapshot_rows(snapshot=snapshot))
    task = Assignment.objects.get(pk=row["assignment_id"]).task
    assert row["prompt"] == task.prompt.messages
    assert [c["id"] for c in row["candidates"]] == task.candidate_ids
    assert all(c["text"].startswith("Answer ") and c["model"] == "m" for c in row["candidates"])
    assert row["guideline_version"] == 1 and row["split"] in ("train", "validation")


def test_the_manifest_says_how_the_snapshot_was_made(project, admin, reviewed):
    snapshot = snapshot_freeze(project=project, name="v1", created_by=admin, seed=7, validation_fraction=0.25)

    manifest = snapshot.manifest
    assert manifest["filters"]["verdict"] == "accepted" and manifest["filters"]["kinds"] == [
        "demonstration",
        "ranking",
    ]
    assert manifest["split"]["seed"] == 7 and manifest["split"]["validation_fraction"] == 0.25
    near_copies = manifest["split"]["near_copies"]
    assert near_copies["threshold"] == 0.8 and near_copies["ngram"] == 5 and near_copies["clusters"] == 0
    assert manifest["counts"]["rows"] == snapshot.row_count == 4
    assert manifest["counts"]["by_kind"] == {"ranking": 4}
    assert sum(manifest["counts"]["by_split"].values()) == 4
    ranking_ids = sorted(
        SnapshotRow.objects.filter(snapshot=snapshot).values_list("annotation_id", flat=True)
    )
    assert manifest["source_annotation_ids"] == {"ranking": ranking_ids, "demonstration": []}
    assert manifest["guideline_versions"] == {"1": 4}
    assert manifest["code_version"] and len(manifest["sha256"]) == 64
    assert snapshot.sha256 == manifest["sha256"] == snapshot_content_sha256(snapshot=snapshot)


def test_the_same_selection_frozen_twice_has_the_same_content_hash(project, reviewed):
    first = snapshot_freeze(project=project, name="a")
    second = snapshot_freeze(project=project, name="b")
    assert first.sha256 == second.sha256
    assert list(snapshot_rows(snapshot=first)) == list(snapshot_rows(snapshot=second))


def test_a_frozen_snapshot_and_its_rows_refuse_any_change(project, reviewed):
    snapshot = snapshot_freeze(project=project, name="v1")
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic():
        SnapshotRow.objects.filter(snapshot=snapshot).update(data="{}")
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic():
        DatasetSnapshot.objects.filter(pk=snapshot.pk).update(name="renamed")
    assert snapshot_content_sha256(snapshot=snapshot) == snapshot.sha256


def test_filters_by_labeler_guideline_version_and_date(project, reviewed):
    by_lea = snapshot_freeze(project=project, name="lea", labelers=["lea"])
    assert {row["labeler"] for row in snapshot_rows(snapshot=by_lea)} == {"lea"} and by_lea.row_count == 3

    with pytest.raises(SnapshotEmpty):
        snapshot_freeze(project=project, name="v2", guideline_versions=[2])
    assert snapshot_freeze(project=project, name="v1", guideline_versions=[1]).row_count == 4

    Assignment.objects.filter(pk=reviewed["lea"][0].pk).update(
        submitted_at=timezone.now() - timedelta(days=10)
    )
    recent = snapshot_freeze(
        project=project, name="recent", submitted_after=timezone.now() - timedelta(days=1)
    )
    old = snapshot_freeze(project=project, name="old", submitted_before=timezone.now() - timedelta(days=1))
    assert recent.row_count == 3 and old.row_count == 1


def test_filters_by_kind(make_project, add_member, admin):
    project = make_project(kinds=["ranking", "demonstration", "refusal"])
    import_prompts(project, ["Write a haiku.", "Summarize the news."], "demonstration")
    import_prompts(project, ["Who won the 1903 chess cup in Lima?"], "refusal")
    lea = add_member(project, "lea")
    review_all(rank_all(project, lea), add_member(project, "rita", "reviewer"))

    refusals = snapshot_freeze(project=project, name="refusals", kinds=["refusal"])
    assert [row["kind"] for row in snapshot_rows(snapshot=refusals)] == ["refusal"]
    everything = snapshot_freeze(project=project, name="all")
    assert everything.manifest["counts"]["by_kind"] == {"demonstration": 2, "refusal": 1}
    row = next(snapshot_rows(snapshot=everything))
    assert (
        row["messages"][: len(row["prompt"])] == row["prompt"] and row["messages"][-1]["role"] == "assistant"
    )


def test_an_empty_selection_is_a_clear_error_and_leaves_nothing(project, reviewed):
    with pytest.raises(SnapshotEmpty, match="matches no annotations"):
        snapshot_freeze(project=project, name="nobody", labelers=["nobody"])
    assert not DatasetSnapshot.objects.exists()


def test_names_are_unique_per_project(project, reviewed):
    from core.errors import Conflict

    snapshot_freeze(project=project, name="v1")
    with pytest.raises(Conflict):
        snapshot_freeze(project=project, name="v1")


@pytest.mark.parametrize(
    "row",
    [
        {"b": [1, 2.5, None, True], "a": {"z": "naïve — ✓", "y": 'quote " and \\ backslash'}},
        {"tool_args": {"id": 2**70}, "ctrl": "tab\tnewline\n"},  # beyond 64 bits: the fallback
    ],
)
def test_canonical_json_is_sorted_compact_utf8(row):
    assert canonical_json(row) == json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
