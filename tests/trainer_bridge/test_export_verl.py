"""verl's input: Parquet with data_source, prompt (chat messages), ability, reward_model {style,
ground_truth} and extra_info {split, index, ...}, as verl's own preprocessing scripts write it
(examples/data_preprocess/gsm8k.py for rule rewards, full_hh_rlhf.py for a reward model).

verl pins a transformers that cannot install beside Coach, so the files are read back with pyarrow and
checked against that schema, and the reward function handed to verl is run by itself, as verl loads it.
"""

import io
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from core.errors import DomainError
from curation.practice import ANSWER_INSTRUCTION
from curation.selectors import snapshot_rows
from tests.trainer_bridge.conftest import PRACTICE
from tests.workers import ROOT
from trainer_bridge.exports import export_prompts, run_practice_export

MESSAGE = {"role": pa.string(), "content": pa.string()}
VERL_COLUMNS = ["data_source", "prompt", "ability", "reward_model", "extra_info"]


def fields(struct: pa.DataType) -> dict[str, pa.DataType]:
    return {struct.field(i).name: struct.field(i).type for i in range(struct.num_fields)}


def assert_verl_schema(schema: pa.Schema, extra_info: dict[str, pa.DataType]) -> None:
    assert schema.names == VERL_COLUMNS
    assert schema.field("data_source").type == pa.string() and schema.field("ability").type == pa.string()
    prompt = schema.field("prompt").type
    assert pa.types.is_list(prompt) and fields(prompt.value_type) == MESSAGE
    assert fields(schema.field("reward_model").type) == {"style": pa.string(), "ground_truth": pa.string()}
    assert fields(schema.field("extra_info").type) == extra_info


def test_a_practice_set_exports_as_verl_rows_with_rule_rewards_and_its_split(practice_set, tmp_path):
    result = run_practice_export(
        practice_set=practice_set,
        run=None,
        kind="problems",
        path=tmp_path / "train.parquet",
        options={"layout": "verl"},
    )
    table = pq.read_table(result.path)

    assert_verl_schema(
        table.schema,
        {
            "split": pa.string(),
            "index": pa.int64(),
            "line": pa.int64(),
            "verifier": pa.string(),
            "tolerance": pa.float64(),
            "relative": pa.bool_(),
            "choices": pa.list_(pa.string()),
        },
    )
    rows = table.to_pylist()
    problems = list(practice_set.problems.order_by("line"))
    assert len(rows) == len(PRACTICE) == result.records
    assert rows[0] == {
        "data_source": "coach/practice/mixed",
        "prompt": [{"role": "user", "content": f"What is 17 plus 25?\n\n{ANSWER_INSTRUCTION}"}],
        "ability": "practice",
        "reward_model": {"style": "rule", "ground_truth": "42"},
        "extra_info": {
            "split": problems[0].split,
            "index": 0,
            "line": 1,
            "verifier": "numeric",
            "tolerance": 0.5,
            "relative": False,
            "choices": None,
        },
    }
    assert [r["extra_info"]["split"] for r in rows] == [p.split for p in problems]
    assert {r["extra_info"]["split"] for r in rows} == {"train", "validation"}
    choice = rows[4]
    assert choice["reward_model"]["ground_truth"] == "C"
    assert choice["extra_info"]["choices"] == ["4", "6", "7"] and "C. 7" in choice["prompt"][0]["content"]


def test_each_split_exports_alone_and_the_same_inputs_give_the_same_bytes(practice_set, tmp_path):
    def export(split, name):
        return run_practice_export(
            practice_set=practice_set,
            run=None,
            kind="problems",
            path=tmp_path / name,
            options={"layout": "verl", "split": split},
        )

    held_out = export("validation", "validation.parquet")
    rows = pq.read_table(held_out.path).to_pylist()
    assert {r["extra_info"]["split"] for r in rows} == {"validation"}
    assert len(rows) == practice_set.problems.filter(split="validation").count() == 3
    assert [r["extra_info"]["index"] for r in rows] == [0, 1, 2]
    train = export("train", "train.parquet")
    assert held_out.records + train.records == len(PRACTICE)
    assert export("validation", "again.parquet").sha256 == held_out.sha256
    assert (tmp_path / "again.parquet").read_bytes() == (tmp_path / "validation.parquet").read_bytes()


def test_the_reward_function_handed_to_verl_scores_the_exported_rows_without_coach(practice_set, tmp_path):
    """verl imports the file named by custom_reward_function.path in its own process, without Django."""
    path = run_practice_export(
        practice_set=practice_set,
        run=None,
        kind="problems",
        path=tmp_path / "p.parquet",
        options={"layout": "verl"},
    ).path
    solutions = [[right, wrong] for _, right, wrong in PRACTICE]
    script = """
import json, runpy, sys
import pyarrow.parquet as pq
reward = runpy.run_path(sys.argv[1])["compute_score"]
solutions = json.loads(sys.argv[3])
table = pq.read_table(sys.argv[2])
def scores(rows):  # as Python lists (datasets) and as numpy arrays (pandas): verl reads through both
    return [
        [reward(r["data_source"], text, r["reward_model"]["ground_truth"], r["extra_info"]) for text in pair]
        for r, pair in zip(rows, solutions)
    ]
print(json.dumps({
    "scores": scores(table.to_pylist()),
    "pandas": scores(table.to_pandas().to_dict("records")),
    "django": "django" in sys.modules,
}))
"""
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            script,
            str(ROOT / "curation" / "verifiers.py"),
            str(path),
            json.dumps(solutions),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = json.loads(done.stdout)
    assert out["scores"] == out["pandas"] == [[1.0, 0.0]] * len(PRACTICE)
    assert out["django"] is False


def test_a_snapshots_prompts_export_as_verl_rows_for_a_reward_model(snapshot, tmp_path):
    result = export_prompts(
        snapshot=snapshot, path=tmp_path / "prompts.parquet", fmt="parquet", layout="verl"
    )
    table = pq.read_table(result.path)

    assert_verl_schema(table.schema, {"split": pa.string(), "index": pa.int64(), "prompt_id": pa.int64()})
    rows = table.to_pylist()
    split_of = {row["prompt_id"]: row["split"] for row in snapshot_rows(snapshot=snapshot)}
    prompt_of = {row["prompt_id"]: row["prompt"] for row in snapshot_rows(snapshot=snapshot)}
    assert len(rows) == len(split_of) == 12
    for index, row in enumerate(rows):
        assert row["data_source"] == "coach/snapshot/everything v1" and row["ability"] == "alignment"
        assert row["reward_model"] == {"style": "model", "ground_truth": ""}
        assert row["extra_info"]["index"] == index
        assert row["extra_info"]["split"] == split_of[row["extra_info"]["prompt_id"]]
        assert row["prompt"] == prompt_of[row["extra_info"]["prompt_id"]]
    assert {row["extra_info"]["split"] for row in rows} == {"train", "validation"}


def test_verl_reads_parquet_only_and_only_problems_and_prompts(
    snapshot, practice_set, practice_run, tmp_path
):
    parquet = export_prompts(snapshot=snapshot, path=tmp_path / "default.parquet", layout="verl")
    assert parquet.options == {
        "format": "parquet",
        "split": "all",
        "layout": "verl",
        "kinds": parquet.options["kinds"],
    }
    assert pq.read_table(parquet.path).num_rows == 12
    with pytest.raises(DomainError) as jsonl:
        export_prompts(snapshot=snapshot, path=tmp_path / "p.jsonl", fmt="jsonl", layout="verl")
    assert jsonl.value.field == "format"
    with pytest.raises(DomainError) as sft:
        run_practice_export(
            practice_set=practice_set,
            run=practice_run,
            kind="sft",
            path=tmp_path / "s",
            options={"layout": "verl"},
        )
    assert sft.value.field == "layout"
    assert not [p for p in tmp_path.iterdir() if p.name != "default.parquet"]


def test_export_prompts_for_verl_writes_parquet_from_the_command_line(snapshot, tmp_path):
    out = io.StringIO()
    path = tmp_path / "rl.parquet"
    call_command(
        "export_prompts",
        "--snapshot",
        str(snapshot.pk),
        "--layout",
        "verl",
        "--out",
        str(path),
        "--no-progress",
        stdout=out,
    )
    summary = json.loads(out.getvalue())
    assert summary["options"]["format"] == "parquet" and summary["records"] == 12
    assert pq.read_table(path).schema.names == VERL_COLUMNS
    with pytest.raises(CommandError, match="verl reads Parquet files"):
        call_command(
            "export_prompts", "--snapshot", str(snapshot.pk), "--layout", "verl", "--format", "jsonl"
        )
