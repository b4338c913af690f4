import json

from tests.factories import SEARCH_TOOLS
from trainer_bridge.exports import export_prompts


def test_each_prompt_comes_once_as_a_prompt_only_row(snapshot, tmp_path):
    rows = [
        json.loads(line) for line in export_prompts(snapshot=snapshot, path=tmp_path / "p.jsonl").path.open()
    ]

    assert len(rows) == 5 + 4 + 1 + 2  # every prompt once, though each was labeled twice
    assert len({row["prompt_id"] for row in rows}) == len(rows)
    assert all(row["prompt"][-1]["role"] == "user" for row in rows)
    assert [row["tools"] for row in rows if "tools" in row] == [SEARCH_TOOLS, SEARCH_TOOLS]


def test_prompts_can_be_limited_to_kinds_and_a_split(snapshot, tmp_path):
    ranking = [
        json.loads(line)
        for line in export_prompts(
            snapshot=snapshot, path=tmp_path / "r.jsonl", kinds=["ranking"]
        ).path.open()
    ]
    assert len(ranking) == 5
    train = export_prompts(snapshot=snapshot, path=tmp_path / "t.jsonl", split="train").records
    validation = export_prompts(snapshot=snapshot, path=tmp_path / "v.jsonl", split="validation").records
    assert train + validation == 12
