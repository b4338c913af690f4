"""OpenRLHF's keys, as its datasets read them (openrlhf/datasets): preferences as whole conversations under
`chosen` and `rejected` (its reward-model and DPO trainers with `--apply_chat_template` and no
`--prompt_key`; DPO takes the prompt from `chosen[:-1]`; `margin` feeds the margin loss), prompts under
`input` (`--input_key`) with a `datasource`, and a verifiable problem's `label` (`--label_key`), the one
field a reward function receives besides the text.

OpenRLHF pins a transformers that cannot install beside Coach, so the files are read back with pyarrow
and checked against those keys, and the reward function is run by itself, as OpenRLHF loads it.
"""

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq
import pytest

from core.errors import DomainError
from curation.practice import ANSWER_INSTRUCTION
from curation.selectors import snapshot_rows
from tests.trainer_bridge.conftest import PRACTICE
from tests.workers import ROOT
from trainer_bridge.exports import export_prompts, export_rm, run_practice_export


def read_jsonl(path) -> pa.Table:
    return pj.read_json(path)


def conversation_type(table: pa.Table, column: str) -> dict[str, pa.DataType]:
    value = table.schema.field(column).type.value_type
    return {value.field(i).name: value.field(i).type for i in range(value.num_fields)}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_preferences_are_whole_chosen_and_rejected_conversations_with_their_margin(snapshot, tmp_path, fmt):
    trl = export_rm(snapshot=snapshot, path=tmp_path / f"trl.{fmt}", fmt=fmt, margin=True)
    openrlhf = export_rm(
        snapshot=snapshot, path=tmp_path / f"o.{fmt}", fmt=fmt, margin=True, layout="openrlhf"
    )
    read = read_jsonl if fmt == "jsonl" else pq.read_table
    table, theirs = read(openrlhf.path), read(trl.path).to_pylist()

    assert table.column_names[:3] == ["chosen", "rejected", "margin"] and "prompt" not in table.column_names
    assert (
        conversation_type(table, "chosen")
        == conversation_type(table, "rejected")
        == {
            "role": pa.string(),
            "content": pa.string(),
        }
    )
    assert table.schema.field("margin").type == pa.float64()
    rows = table.to_pylist()
    assert len(rows) == len(theirs) == openrlhf.records == 55
    for row, same in zip(rows, theirs, strict=True):
        assert row["chosen"][:-1] == row["rejected"][:-1] == same["prompt"]  # DPO's prompt: chosen[:-1]
        assert [row["chosen"][-1]] == same["chosen"] and [row["rejected"][-1]] == same["rejected"]
        assert row["chosen"][-1]["role"] == "assistant" and row["margin"] == same["margin"] >= 1.0
        assert (row["prompt_id"], row["labeler"]) == (same["prompt_id"], same["labeler"])


def test_openrlhf_preferences_are_pairwise_and_byte_identical_each_time(snapshot, tmp_path):
    once = export_rm(snapshot=snapshot, path=tmp_path / "a.jsonl", layout="openrlhf", by="consensus")
    again = export_rm(snapshot=snapshot, path=tmp_path / "b.jsonl", layout="openrlhf", by="consensus")
    assert once.sha256 == again.sha256 and once.path.read_bytes() == again.path.read_bytes()
    with pytest.raises(DomainError) as kwise:
        export_rm(snapshot=snapshot, path=tmp_path / "k.jsonl", mode="kwise", layout="openrlhf")
    assert kwise.value.field == "mode"


def test_prompt_sets_come_under_input_with_their_datasource(snapshot, tmp_path):
    table = read_jsonl(export_prompts(snapshot=snapshot, path=tmp_path / "p.jsonl", layout="openrlhf").path)
    assert table.column_names == ["input", "datasource", "prompt_id"]
    assert conversation_type(table, "input") == {"role": pa.string(), "content": pa.string()}
    prompt_of = {row["prompt_id"]: row["prompt"] for row in snapshot_rows(snapshot=snapshot)}
    rows = table.to_pylist()
    assert len(rows) == len(prompt_of) == 12
    for row in rows:
        assert row["datasource"] == "coach/snapshot/everything v1"
        assert row["input"] == prompt_of[row["prompt_id"]]


def test_practice_problems_carry_their_verifier_as_the_label(practice_set, practice_run, tmp_path):
    result = run_practice_export(
        practice_set=practice_set,
        run=practice_run,
        kind="problems",
        path=tmp_path / "problems.jsonl",
        options={"layout": "openrlhf"},
    )
    table = read_jsonl(result.path)
    assert table.column_names == ["input", "label", "datasource", "split", "line", "pass_rate"]
    assert table.schema.field("label").type == pa.string()
    rows = table.to_pylist()
    problems = list(practice_set.problems.order_by("line"))
    assert rows[0] == {
        "input": [{"role": "user", "content": f"What is 17 plus 25?\n\n{ANSWER_INSTRUCTION}"}],
        "label": '{"verifier":"numeric","answer":"42","relative":false,"tolerance":0.5}',
        "datasource": "coach/practice/mixed",
        "split": problems[0].split,
        "line": 1,
        "pass_rate": 0.5,
    }
    assert json.loads(rows[4]["label"]) == {"verifier": "choice", "answer": "C", "choices": ["4", "6", "7"]}
    assert [r["split"] for r in rows] == [p.split for p in problems]


def test_the_reward_function_handed_to_openrlhf_scores_the_exported_labels_without_coach(
    practice_set, tmp_path
):
    """OpenRLHF imports the file named by --remote_rm_url and calls reward_func(queries, prompts, labels)."""
    path = run_practice_export(
        practice_set=practice_set,
        run=None,
        kind="problems",
        path=tmp_path / "p.jsonl",
        options={"layout": "openrlhf"},
    ).path
    # As a chat template renders them: the prompt, then the response with its end marker.
    prompts, queries, labels = [], [], []
    for row, (_, right, wrong) in zip(read_jsonl(path).to_pylist(), PRACTICE, strict=True):
        prompt = f"<|user|>{row['input'][0]['content']}<|assistant|>"
        for text in (right, wrong):
            prompts.append(prompt)
            queries.append(prompt + text + "<|im_end|>")
            labels.append(row["label"])
    script = """
import json, runpy, sys
reward = runpy.run_path(sys.argv[1])["reward_func"]
args = json.loads(sys.argv[2])
out = reward(args["queries"], args["prompts"], args["labels"])
print(json.dumps({"rewards": out["rewards"].tolist(), "scores": out["scores"].tolist(),
                  "django": "django" in sys.modules}))
"""
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            script,
            str(ROOT / "curation" / "verifiers.py"),
            json.dumps({"queries": queries, "prompts": prompts, "labels": labels}),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = json.loads(done.stdout)
    assert out["rewards"] == out["scores"] == [1.0, 0.0] * len(PRACTICE)
    assert out["django"] is False


def test_a_runs_solutions_export_as_openrlhf_pairs(practice_set, practice_run, tmp_path):
    result = run_practice_export(
        practice_set=practice_set,
        run=practice_run,
        kind="rm",
        path=tmp_path / "pairs.parquet",
        options={"layout": "openrlhf", "format": "parquet", "split": "validation"},
    )
    rows = pq.read_table(result.path).to_pylist()
    held_out = list(practice_set.problems.filter(split="validation").order_by("line"))
    assert len(rows) == len(held_out) == 3  # one right and one wrong solution each: one pair
    for row, problem in zip(rows, held_out, strict=True):
        assert row["chosen"][0]["content"].startswith(problem.problem)
        assert row["chosen"][:-1] == row["rejected"][:-1]
        assert row["chosen"][-1] == {"role": "assistant", "content": PRACTICE[problem.line - 1][1]}
        assert row["rejected"][-1] == {"role": "assistant", "content": PRACTICE[problem.line - 1][2]}
