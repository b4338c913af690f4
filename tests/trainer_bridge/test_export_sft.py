import json

import pytest

from core.errors import DomainError
from curation.selectors import snapshot_rows
from tests.factories import SEARCH_TOOLS
from trainer_bridge.exports import ExportEmpty, export_sft


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sft_rows_are_trl_conversations_with_tools_on_tool_calls(snapshot, tmp_path):
    result = export_sft(snapshot=snapshot, path=tmp_path / "sft.jsonl")

    rows = read_jsonl(result.path)
    assert result.records == len(rows) == 14  # (4 demonstrations + 1 refusal + 2 search) x 2 labelers
    assert all(set(row) <= {"messages", "tools"} for row in rows)
    assert all(row["messages"][-1]["role"] == "assistant" for row in rows)
    with_tools = [row for row in rows if "tools" in row]
    assert len(with_tools) == 4 and all(row["tools"] == SEARCH_TOOLS for row in with_tools)
    for row in with_tools:
        call = row["messages"][-3]["tool_calls"][0]
        assert call["function"]["name"] == "search" and isinstance(call["function"]["arguments"], dict)
        assert row["messages"][-2]["role"] == "tool"


def test_each_kind_is_selectable(snapshot, tmp_path):
    refusals = read_jsonl(export_sft(snapshot=snapshot, path=tmp_path / "r.jsonl", kinds=["refusal"]).path)
    assert len(refusals) == 2 and all("I don't know" in r["messages"][-1]["content"] for r in refusals)
    search = read_jsonl(export_sft(snapshot=snapshot, path=tmp_path / "s.jsonl", kinds=["search"]).path)
    assert len(search) == 4 and all("tools" in r for r in search)
    with pytest.raises(DomainError, match="kinds"):
        export_sft(snapshot=snapshot, path=tmp_path / "x.jsonl", kinds=["ranking"])


def test_splits_partition_the_rows_by_prompt(snapshot, tmp_path):
    train = read_jsonl(export_sft(snapshot=snapshot, path=tmp_path / "t.jsonl", split="train").path)
    validation = read_jsonl(export_sft(snapshot=snapshot, path=tmp_path / "v.jsonl", split="validation").path)
    assert len(train) + len(validation) == 14 and train and validation
    prompts = lambda rows: {json.dumps(r["messages"][:-1]) for r in rows}  # noqa: E731
    assert not prompts(train) & prompts(validation)
    expected = [
        r
        for r in snapshot_rows(snapshot=snapshot, kinds=["demonstration", "refusal", "search"])
        if r["split"] == "train"
    ]
    assert [r["messages"] for r in train] == [r["messages"] for r in expected]


def test_the_same_snapshot_exports_byte_identical_files(snapshot, tmp_path):
    first = export_sft(snapshot=snapshot, path=tmp_path / "a.jsonl")
    second = export_sft(snapshot=snapshot, path=tmp_path / "b.jsonl")
    again = export_sft(snapshot=snapshot, path=tmp_path / "a.jsonl")
    assert first.path.read_bytes() == second.path.read_bytes() == again.path.read_bytes()
    assert first.sha256 == second.sha256 == again.sha256
    parquet_a = export_sft(snapshot=snapshot, path=tmp_path / "a.parquet", fmt="parquet")
    parquet_b = export_sft(snapshot=snapshot, path=tmp_path / "b.parquet", fmt="parquet")
    assert parquet_a.path.read_bytes() == parquet_b.path.read_bytes()


def test_parquet_holds_the_same_rows_as_jsonl(snapshot, tmp_path):
    import pyarrow.parquet as pq

    jsonl = read_jsonl(export_sft(snapshot=snapshot, path=tmp_path / "a.jsonl").path)
    table = pq.read_table(export_sft(snapshot=snapshot, path=tmp_path / "a.parquet", fmt="parquet").path)
    rows = table.to_pylist()
    assert len(rows) == len(jsonl)
    for parquet_row, json_row in zip(rows, jsonl, strict=True):
        assert [m["content"] for m in parquet_row["messages"]] == [m["content"] for m in json_row["messages"]]
        assert (parquet_row["tools"] is not None) == ("tools" in json_row)


def test_a_snapshot_without_such_rows_is_a_clear_error_and_writes_nothing(
    make_project, add_member, admin, tmp_path
):
    from curation.snapshots import snapshot_freeze
    from tests.factories import rank_all, review_all, seed_rankings

    project = make_project(name="ranks only", kinds=["ranking"])
    seed_rankings(project, 2)
    review_all(rank_all(project, add_member(project, "lea")), add_member(project, "rita", "reviewer"))
    snapshot = snapshot_freeze(project=project, name="r")

    with pytest.raises(ExportEmpty, match="no chat or demonstration or refusal or search rows"):
        export_sft(snapshot=snapshot, path=tmp_path / "sft.jsonl")
    assert list(tmp_path.iterdir()) == []
