"""Real consumers read the exports: `datasets` loads the files and TRL trains two steps on them.

The model is the tiny Llama built from scratch by trainer_bridge.ml.tiny (no downloads).
"""

import math
from typing import Any

import pytest

from trainer_bridge.exports import export_rm, export_sft

pytestmark = pytest.mark.ml


@pytest.fixture(scope="module")
def hf() -> Any:
    """datasets and trl, imported only when these tests run (they are slow to import)."""
    import datasets
    import trl

    return datasets, trl


def _common(tmp_path) -> dict:
    return {
        "output_dir": str(tmp_path / "out"),
        "max_steps": 2,
        "per_device_train_batch_size": 2,
        "learning_rate": 1e-3,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "use_cpu": True,
        "dataloader_num_workers": 0,
        "seed": 0,
    }


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_sft_trainer_trains_on_the_sft_export(snapshot, untrained_model_dir, tmp_path, fmt, hf):
    datasets, trl = hf
    from transformers import AutoModelForCausalLM, AutoTokenizer

    exported = export_sft(snapshot=snapshot, path=tmp_path / f"sft.{fmt}", fmt=fmt)
    dataset = datasets.load_dataset(
        "json" if fmt == "jsonl" else "parquet", data_files=str(exported.path), split="train"
    )
    assert len(dataset) == exported.records and "tools" in dataset.column_names

    trainer = trl.SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(untrained_model_dir),
        processing_class=AutoTokenizer.from_pretrained(untrained_model_dir),
        train_dataset=dataset,
        args=trl.SFTConfig(**_common(tmp_path), assistant_only_loss=True, max_length=512),
    )
    result = trainer.train()

    assert trainer.state.global_step == 2 and math.isfinite(result.training_loss)
    # TRL drops rows without an assistant token to learn from: every exported row kept some
    assert len(trainer.train_dataset) == exported.records


def test_reward_trainer_trains_on_the_pairwise_export(snapshot, untrained_model_dir, tmp_path, hf):
    datasets, trl = hf
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    exported = export_rm(snapshot=snapshot, path=tmp_path / "rm.jsonl", margin=True)
    dataset = datasets.load_dataset("json", data_files=str(exported.path), split="train")
    assert len(dataset) == 55 and {"prompt", "chosen", "rejected", "margin"} <= set(dataset.column_names)

    tokenizer = AutoTokenizer.from_pretrained(untrained_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(untrained_model_dir, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    trainer = trl.RewardTrainer(
        model=model,
        processing_class=tokenizer,
        train_dataset=dataset,
        args=trl.RewardConfig(**_common(tmp_path), max_length=512),
    )
    result = trainer.train()

    assert trainer.state.global_step == 2 and math.isfinite(result.training_loss)
