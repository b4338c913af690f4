"""Supervised fine-tuning on chat demonstrations with a transformers Trainer: loss on assistant tokens only.

The assistant tokens are found by rendering conversation prefixes (trainer_bridge.chat_spans), so any
stock chat template works, with or without `{% generation %}` markers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

from trainer_bridge.chat_spans import assistant_char_spans
from trainer_bridge.ml.config import SFTConfig
from trainer_bridge.ml.training import (
    CoachTrainer,
    Listed,
    OnProgress,
    Ordered,
    Progress,
    ShouldStop,
    check_engine_options,
    finished_metrics,
    latest_checkpoint,
    load_weights_dtype,
    quantization,
    run_trainer,
    step_order,
    total_steps,
    training_arguments,
    with_lora,
)

IGNORE = -100  # label value cross-entropy skips


def template_name(tokenizer: Any) -> str:
    return f"of {tokenizer.name_or_path or 'this tokenizer'}"


def build_sft_example(
    tokenizer: Any, messages: list[dict], tools: list[dict] | None = None
) -> dict[str, list[int]]:
    """Token ids and labels of one chat; labels are IGNORE on everything an assistant did not write.

    A token is labelled when its characters start inside an assistant turn's span of the rendered chat.
    """

    def render(prefix: list[dict[str, Any]], generation_prompt: bool) -> str:
        if not prefix and not generation_prompt:
            return ""
        return str(
            tokenizer.apply_chat_template(
                prefix, tools=tools, tokenize=False, add_generation_prompt=generation_prompt
            )
        )

    text, spans = assistant_char_spans(render, messages, template=template_name(tokenizer))
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"SFT needs a fast tokenizer (character offsets); {tokenizer.name_or_path} has none")
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    labels = []
    span = 0
    for token, (start, _end) in zip(ids, enc["offset_mapping"], strict=True):
        while span < len(spans) and start >= spans[span][1]:
            span += 1
        inside = span < len(spans) and spans[span][0] <= start < spans[span][1]
        labels.append(token if inside else IGNORE)
    return {"input_ids": ids, "labels": labels}


def _examples(tokenizer: Any, rows: list[dict], max_len: int) -> tuple[list[dict], int]:
    """Encode rows, cut to max_len; rows left without any assistant token are skipped and counted."""
    examples, skipped = [], 0
    for row in rows:
        example = build_sft_example(tokenizer, row["messages"], row.get("tools"))
        example = {key: values[:max_len] for key, values in example.items()}
        if all(label == IGNORE for label in example["labels"][1:]):
            skipped += 1
            continue
        examples.append(example)
    return examples, skipped


def collate(examples: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest example; padding is masked out of attention and of the loss."""
    width = max(len(e["input_ids"]) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e["input_ids"])
        input_ids[row, :n] = torch.tensor(e["input_ids"])
        labels[row, :n] = torch.tensor(e["labels"])
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


class SFTTrainer(CoachTrainer):
    """The model's own token-averaged cross-entropy (averaged over the step's tokens on every process);
    validation reports the mean loss per assistant token over the whole set."""

    train_tokens: list[int] = []

    def running_counters(self, step: int) -> dict[str, Any]:
        return {"train_tokens": self.train_tokens[step - 1] if step else 0}

    def prediction_step(
        self, model: Any, inputs: dict[str, Any], prediction_loss_only: bool, ignore_keys: Any = None
    ) -> Any:
        """Per example: (summed loss over its assistant tokens, their count); one row per example, so
        the rows a process repeats to even out the last batch are dropped when gathered."""
        with torch.no_grad():
            labels = inputs.pop("labels")
            logits = model(**inputs).logits.float()
            targets = labels[:, 1:]  # the model predicts each label from the token before
            losses = torch.nn.functional.cross_entropy(
                logits[:, :-1].transpose(1, 2), targets, ignore_index=IGNORE, reduction="none"
            )
            counted = (targets != IGNORE).sum(dim=1)
            sums = torch.stack([losses.sum(dim=1), counted.to(losses.dtype)], dim=1)
        return losses.sum() / counted.sum().clamp(min=1), sums, sums


def _val_loss(prediction: Any) -> dict[str, float]:
    sums = prediction.predictions.reshape(-1, 2).sum(axis=0)
    return {"val_loss": float(sums[0] / max(1.0, sums[1]))}


def train_sft(
    model_dir: str | Path,
    train_rows: list[dict],
    val_rows: list[dict],
    cfg: SFTConfig,
    *,
    on_progress: OnProgress | None = None,
    should_stop: ShouldStop | None = None,
) -> dict:
    """Fine-tune on rows {"messages", "tools"?}; resumes from the newest checkpoint in output_dir.

    Runs on however many processes torchrun started (one when called directly)."""
    out = Path(cfg.output_dir)
    if (done := finished_metrics(out)) is not None:
        return done
    check_engine_options(cfg)
    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    train, skipped = _examples(tokenizer, train_rows, cfg.max_len)
    val, _ = _examples(tokenizer, val_rows, cfg.max_len)
    if not train:
        raise ValueError("no training example has an assistant token within max_len")
    total = total_steps(
        examples=len(train), batch_size=cfg.batch_size, epochs=cfg.epochs, max_steps=cfg.max_steps
    )
    order = step_order(examples=len(train), batch_size=cfg.batch_size, steps=total, seed=cfg.seed)

    set_seed(cfg.seed)  # a fresh head starts the same on every process count and every run
    model: Any = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=load_weights_dtype(cfg), **quantization(cfg)
    )
    model = with_lora(model, cfg, "CAUSAL_LM")
    args = training_arguments(
        cfg, total=total, batch_size=cfg.batch_size, layer_class=_layer_class(model), has_val=bool(val)
    )
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    progress = Progress(on_progress, should_stop, started)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Ordered(train, order),
        eval_dataset=Listed(val) if val else None,
        data_collator=lambda batch: collate(batch, pad_id),
        processing_class=tokenizer,
        compute_metrics=_val_loss,
        callbacks=[progress],
    )
    lengths = [len(train[i]["input_ids"]) for i in order]
    running, trainer.train_tokens = 0, []
    for step in range(total):
        running += sum(lengths[step * cfg.batch_size : (step + 1) * cfg.batch_size])
        trainer.train_tokens.append(running)
    result = run_trainer(
        trainer,
        progress,
        cfg,
        counts={"train_examples": len(train), "val_examples": len(val), "skipped_examples": skipped},
    )
    return result


def _layer_class(model: Any) -> str:
    """The decoder layer class FSDP wraps one by one."""
    for module in model.modules():
        if type(module).__name__.endswith("DecoderLayer"):
            return type(module).__name__
    raise ValueError("FSDP needs a model built from decoder layers")


__all__ = ["IGNORE", "SFTConfig", "build_sft_example", "latest_checkpoint", "train_sft"]
