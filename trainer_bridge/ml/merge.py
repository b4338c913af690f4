"""Merge a LoRA adapter into its base: a model directory that runs without peft."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer


def merge_adapter(*, adapter_dir: str | Path, base_dir: str | Path, out_dir: str | Path, task: str) -> Path:
    """Write base + adapter as one model into out_dir (atomically); task is "sft" or "rm"."""
    out = Path(out_dir)
    tmp = out.with_name(f".tmp-{out.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    base: Any
    if task == "rm":
        base = AutoModelForSequenceClassification.from_pretrained(
            base_dir, num_labels=1, pad_token_id=tokenizer.pad_token_id, dtype=torch.float32
        )
        base.config.pad_token_id = tokenizer.pad_token_id
    else:
        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
