import hashlib
import json
from itertools import groupby

import pyarrow.parquet as pq
import pytest

from core.errors import DomainError
from curation.selectors import snapshot_rows
from curation.snapshots import snapshot_freeze
from tests.factories import rank_all, review_all, seed_rankings
from trainer_bridge.exports import export_rm
from trainer_bridge.exports.files import json_line
from trainer_bridge.exports.records import pair_lines, pair_records


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def answer(turn):
    """'Answer 2 to prompt 0: ...' -> 2"""
    return int(turn[0]["content"].split()[1])


def test_pairs_per_labeler_skip_ties_and_come_grouped_by_prompt(snapshot, tmp_path):
    rows = read_jsonl(export_rm(snapshot=snapshot, path=tmp_path / "rm.jsonl").path)

    assert len(rows) == 5 * 5 + 5 * 6  # lea: a tie leaves 5 of 6 pairs; otto: all 6
    assert all(row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant" for row in rows)
    prompt_order = [key for key, _ in groupby(row["prompt_id"] for row in rows)]
    assert len(prompt_order) == len(set(prompt_order)) == 5  # each prompt's rows are together
    lea = {
        (answer(r["chosen"]), answer(r["rejected"]))
        for r in rows
        if r["labeler"] == "lea" and r["prompt_id"] == rows[0]["prompt_id"]
    }
    assert lea == {(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)}  # 1 and 2 are tied: no pair between them
    otto = {
        (answer(r["chosen"]), answer(r["rejected"]))
        for r in rows
        if r["labeler"] == "otto" and r["prompt_id"] == rows[0]["prompt_id"]
    }
    assert otto == {(j, i) for i in range(4) for j in range(i + 1, 4)}
    assert "margin" not in rows[0]


def test_the_margin_is_the_tier_distance(snapshot, tmp_path):
    rows = read_jsonl(export_rm(snapshot=snapshot, path=tmp_path / "rm.jsonl", margin=True).path)
    margins = {
        (answer(r["chosen"]), answer(r["rejected"])): r["margin"] for r in rows if r["labeler"] == "lea"
    }
    assert margins == {(0, 1): 1.0, (0, 2): 1.0, (0, 3): 2.0, (1, 3): 1.0, (2, 3): 1.0}


def test_consensus_gives_one_ranking_per_task(snapshot, tmp_path):
    rows = read_jsonl(export_rm(snapshot=snapshot, path=tmp_path / "rm.jsonl", by="consensus").path)
    # lea ranks 0 > 1 = 2 > 3, otto 3 > 2 > 1 > 0: the only majority is 2 over 1 (one to none), so
    # 2, 0 and 3 share the top tier and 1 is below them.
    assert len(rows) == 5 * 3 and {r["labeler"] for r in rows} == {"consensus"}
    assert {r["consensus_rule"] for r in rows} == {"kemeny_young"}
    first = {
        (answer(r["chosen"]), answer(r["rejected"])) for r in rows if r["prompt_id"] == rows[0]["prompt_id"]
    }
    assert first == {(2, 1), (0, 1), (3, 1)}


def test_kwise_rows_list_candidates_in_rank_order_with_tiers(snapshot, tmp_path):
    rows = read_jsonl(export_rm(snapshot=snapshot, path=tmp_path / "k.jsonl", mode="kwise").path)
    assert len(rows) == 10
    lea = next(r for r in rows if r["labeler"] == "lea")
    assert [int(text.split()[1]) for text in lea["candidates"]] == [0, 1, 2, 3]
    assert lea["tiers"] == [0, 1, 1, 2] and len(lea["candidate_ids"]) == 4
    assert lea["ratings"] == [None] * 4 and lea["prompt"][-1]["role"] == "user"

    consensus = read_jsonl(
        export_rm(snapshot=snapshot, path=tmp_path / "c.jsonl", mode="kwise", by="consensus").path
    )
    assert len(consensus) == 5
    group = consensus[0]
    assert [int(text.split()[1]) for text in group["candidates"]] == [2, 0, 3, 1]
    assert group["tiers"] == [0, 0, 0, 1] and group["labelers"] == ["lea", "otto"]
    assert group["mean_ranks"] == [2.25, 2.5, 2.5, 2.75] and group["consensus_rule"] == "kemeny_young"


def test_the_fast_pairwise_lines_equal_the_records_encoded_one_by_one(snapshot):
    rows = list(snapshot_rows(snapshot=snapshot, kinds=["ranking"]))
    for by in ("labeler", "consensus"):
        for margin in (False, True):
            for rule in (None, "kemeny_young", "mean_rank"):
                fast = list(pair_lines(iter(rows), by=by, margin=margin, consensus=rule))
                records = pair_records(iter(rows), by=by, margin=margin, consensus=rule)
                assert fast == [json_line(record) for record in records]


def test_parquet_pairs_match_jsonl_pairs(snapshot, tmp_path):
    jsonl = read_jsonl(export_rm(snapshot=snapshot, path=tmp_path / "p.jsonl", margin=True).path)
    parquet = pq.read_table(
        export_rm(snapshot=snapshot, path=tmp_path / "p.parquet", fmt="parquet", margin=True).path
    )
    assert parquet.to_pylist() == jsonl


def test_rm_options_are_checked(snapshot, tmp_path):
    with pytest.raises(DomainError, match="margin belongs to pairwise"):
        export_rm(snapshot=snapshot, path=tmp_path / "x.jsonl", mode="kwise", margin=True)
    with pytest.raises(DomainError, match="by must be one of"):
        export_rm(snapshot=snapshot, path=tmp_path / "x.jsonl", by="majority")


# --- a snapshot frozen before the manifest named its consensus rule --------------------------------

# Task 11: three labelers rank 101 > 102 > 103 > 104 and two rank 102 > 103 > 104 > 101.
# Task 12: three labelers with ties.
_OLD_TASKS = {
    11: {
        "a": [[101], [102], [103], [104]],
        "b": [[101], [102], [103], [104]],
        "c": [[101], [102], [103], [104]],
        "d": [[102], [103], [104], [101]],
        "e": [[102], [103], [104], [101]],
    },
    12: {
        "a": [[201], [202, 203], [204]],
        "b": [[204], [203], [202], [201]],
        "c": [[202], [201, 204], [203]],
    },
}


def _old_style_snapshot(project):
    """A snapshot whose manifest has no "consensus" key, built row by row with fixed ids."""
    from curation.models import DatasetSnapshot, SnapshotRow
    from curation.snapshots import canonical_json

    rows = []
    for task_id, by_labeler in _OLD_TASKS.items():
        prompt_id = task_id - 10
        candidate_ids = sorted(c for tier in next(iter(by_labeler.values())) for c in tier)
        for n, (labeler, tiers) in enumerate(by_labeler.items()):
            rows.append(
                {
                    "kind": "ranking",
                    "split": "train",
                    "prompt_id": prompt_id,
                    "prompt_external_id": f"p{prompt_id}",
                    "prompt_group": f"group{prompt_id}",
                    "prompt": [{"role": "user", "content": f"Question {prompt_id}?"}],
                    "task_id": task_id,
                    "assignment_id": task_id * 10 + n,
                    "annotation_id": task_id * 10 + n,
                    "revision": 1,
                    "labeler": labeler,
                    "edited_by": None,
                    "verdict": "accept",
                    "guideline_version": 1,
                    "submitted_at": None,
                    "seconds": 1.0,
                    "candidates": [{"id": c, "text": f"Answer {c}.", "model": "m"} for c in candidate_ids],
                    "tiers": tiers,
                    "all_bad": False,
                    "ratings": [],
                }
            )
    texts = [canonical_json(row) for row in rows]
    sha256 = hashlib.sha256(b"".join(t.encode() + b"\n" for t in texts)).hexdigest()
    manifest = {"row_format": 1, "snapshot": "old", "split": {"seed": 0}, "sha256": sha256}
    snapshot = DatasetSnapshot.objects.create(
        project=project, name="old", manifest=manifest, row_count=len(rows), sha256=sha256
    )
    SnapshotRow.objects.bulk_create(
        SnapshotRow(
            snapshot=snapshot,
            position=i,
            kind=row["kind"],
            split=row["split"],
            prompt_id=row["prompt_id"],
            prompt_group=row["prompt_group"],
            annotation_id=row["annotation_id"],
            data=text,
        )
        for i, (row, text) in enumerate(zip(rows, texts, strict=True))
    )
    return snapshot


# What these exports were before manifests named a consensus rule, byte for byte (mean rank: 2 first).
_OLD_KWISE = (
    b'{"prompt":[{"content":"Question 1?","role":"user"}],'
    b'"candidates":["Answer 102.","Answer 101.","Answer 103.","Answer 104."],"tiers":[0,1,2,3],'
    b'"candidate_ids":[102,101,103,104],"prompt_id":1,"task_id":11,"all_bad":false,'
    b'"labelers":["a","b","c","d","e"],"mean_ranks":[1.6,2.2,2.6,3.6]}\n'
    b'{"prompt":[{"content":"Question 2?","role":"user"}],'
    b'"candidates":["Answer 202.","Answer 201.","Answer 204.","Answer 203."],"tiers":[0,1,1,2],'
    b'"candidate_ids":[202,201,204,203],"prompt_id":2,"task_id":12,"all_bad":false,'
    b'"labelers":["a","b","c"],"mean_ranks":[2.1666666666666665,2.5,2.5,2.8333333333333335]}\n'
)
_OLD_SHA256 = {
    "kwise": "370f1d1b7cabb49961d27973d83b64104a93baaa82fae7ea8d7573b0c9cb6551",
    "pairwise": "89ecb33fe9053e3893a341426d1300d042c37f044c2648c361b6a2880c992e82",
    "margin": "144670a0127699d6be66ea28435f22e5aa97738c58906c7ea333abfe5b6c588e",
}
_CONSENSUS_EXPORTS = {
    "kwise": {"mode": "kwise", "by": "consensus"},
    "pairwise": {"by": "consensus"},
    "margin": {"by": "consensus", "margin": True},
}


def test_a_snapshot_whose_manifest_names_no_rule_exports_its_mean_rank_consensus_as_before(project, tmp_path):
    snapshot = _old_style_snapshot(project)
    for name, options in _CONSENSUS_EXPORTS.items():
        result = export_rm(snapshot=snapshot, path=tmp_path / f"{name}.jsonl", **options)
        assert result.sha256 == _OLD_SHA256[name], name
        assert hashlib.sha256(result.path.read_bytes()).hexdigest() == _OLD_SHA256[name]
    assert (tmp_path / "kwise.jsonl").read_bytes() == _OLD_KWISE


def test_a_new_snapshot_names_its_rule_and_its_consensus_follows_the_pairwise_majority(
    make_project, add_member, tmp_path
):
    # Three labelers rank the answers in text order, two put answer 0 last: 0 beats each other answer
    # three to two, so it comes first (its mean rank, 2.2, is behind answer 1's 1.6).
    project = make_project(name="majority", kinds=["ranking"], overlap=5)
    seed_rankings(project, 2)
    rita = add_member(project, "rita", "reviewer")
    for name in ("a", "b", "c"):
        review_all(rank_all(project, add_member(project, name)), rita)
    for name in ("d", "e"):
        review_all(rank_all(project, add_member(project, name), zero_last), rita)

    snapshot = snapshot_freeze(project=project, name="v1")
    assert snapshot.manifest["consensus"]["rule"] == "kemeny_young"
    rows = read_jsonl(
        export_rm(snapshot=snapshot, path=tmp_path / "k.jsonl", mode="kwise", by="consensus").path
    )
    assert [[answer_number(text) for text in row["candidates"]] for row in rows] == [[0, 1, 2, 3]] * 2
    assert all(row["tiers"] == [0, 1, 2, 3] and row["consensus_rule"] == "kemeny_young" for row in rows)
    assert rows[0]["mean_ranks"] == [2.2, 1.6, 2.6, 3.6]
    pairs = read_jsonl(export_rm(snapshot=snapshot, path=tmp_path / "p.jsonl", by="consensus").path)
    assert len(pairs) == 2 * 6 and {p["consensus_rule"] for p in pairs} == {"kemeny_young"}

    by_mean = snapshot_freeze(project=project, name="v1 by mean rank", consensus_rule="mean_rank")
    assert by_mean.manifest["consensus"]["rule"] == "mean_rank"
    rows = read_jsonl(
        export_rm(snapshot=by_mean, path=tmp_path / "m.jsonl", mode="kwise", by="consensus").path
    )
    assert [[answer_number(text) for text in row["candidates"]] for row in rows] == [[1, 0, 2, 3]] * 2
    assert {row["consensus_rule"] for row in rows} == {"mean_rank"}


def answer_number(text):
    """'Answer 2 to question 0.' -> 2"""
    return int(text.split()[1])


def zero_last(task):
    texts = dict(task.prompt.candidates.values_list("id", "text"))
    ids = sorted(task.candidate_ids, key=lambda cid: texts[cid])
    return [[cid] for cid in [*ids[1:], ids[0]]]


def test_a_snapshot_refuses_to_be_frozen_with_an_unknown_consensus_rule(project, reviewed_once):
    with pytest.raises(DomainError, match="consensus_rule must be one of"):
        snapshot_freeze(project=project, name="x", consensus_rule="majority")


@pytest.fixture
def reviewed_once(project, add_member):
    seed_rankings(project, 1)
    review_all(rank_all(project, add_member(project, "lea")), add_member(project, "rita", "reviewer"))


def test_a_reward_model_trained_by_consensus_reads_the_snapshots_rule(make_project, add_member):
    """The training job's data is the export's: the same consensus rule the snapshot names."""
    from trainer_bridge.models import TrainingJob
    from trainer_bridge.services.training import TRAIN, _rows

    project = make_project(name="majority", kinds=["ranking"], overlap=5)
    seed_rankings(project, 2)
    rita = add_member(project, "rita", "reviewer")
    for name in ("a", "b", "c"):
        review_all(rank_all(project, add_member(project, name)), rita)
    for name in ("d", "e"):
        review_all(rank_all(project, add_member(project, name), zero_last), rita)
    firsts = {}
    for rule in ("kemeny_young", "mean_rank"):
        snapshot = snapshot_freeze(project=project, name=rule, consensus_rule=rule, validation_fraction=0.0)
        job = TrainingJob(kind="rm", project=project, snapshot=snapshot, data_options={"by": "consensus"})
        firsts[rule] = {answer_number(row["candidates"][0]) for row in _rows(job, TRAIN)}
    assert firsts == {"kemeny_young": {0}, "mean_rank": {1}}
