import json
from itertools import groupby

import pyarrow.parquet as pq
import pytest

from core.errors import DomainError
from curation.selectors import snapshot_rows
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
    # lea ranks 0 > 1 = 2 > 3, otto 3 > 2 > 1 > 0; mean ranks: 2 (2.25), then 0 and 3 (2.5), then 1 (2.75)
    assert len(rows) == 5 * 5 and {r["labeler"] for r in rows} == {"consensus"}
    first = {
        (answer(r["chosen"]), answer(r["rejected"])) for r in rows if r["prompt_id"] == rows[0]["prompt_id"]
    }
    assert first == {(2, 0), (2, 3), (2, 1), (0, 1), (3, 1)}


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
    assert group["tiers"] == [0, 1, 1, 2] and group["labelers"] == ["lea", "otto"]
    assert group["mean_ranks"] == [2.25, 2.5, 2.5, 2.75]


def test_the_fast_pairwise_lines_equal_the_records_encoded_one_by_one(snapshot):
    rows = list(snapshot_rows(snapshot=snapshot, kinds=["ranking"]))
    for by in ("labeler", "consensus"):
        for margin in (False, True):
            fast = list(pair_lines(iter(rows), by=by, margin=margin))
            slow = [json_line(record) for record in pair_records(iter(rows), by=by, margin=margin)]
            assert fast == slow


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
