"""Supervised fine-tuning on chat demonstrations: loss on assistant tokens only."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from trainer_bridge.ml.config import SFTConfig
from trainer_bridge.ml.training import (
    OnProgress,
    ShouldStop,
    autocast,
    batch_for_step,
    finished_metrics,
    latest_checkpoint,
    pick_device,
    restore_training_state,
    save_checkpoint,
    save_final,
    total_steps,
    warmup_cosine,
)

IGNORE = -100  # label value cross-entropy skips


def build_sft_example(
    tokenizer, messages: list[dict], tools: list[dict] | None = None
) -> dict[str, list[int]]:
    """Token ids and labels of one chat; labels are IGNORE on everything an assistant did not write."""
    if not any(m["role"] == "assistant" for m in messages):
        raise ValueError("an SFT example needs at least one assistant message")
    enc = tokenizer.apply_chat_template(
        messages, tools=tools, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids = list(enc["input_ids"])
    # The template wraps assistant content, tool calls and the end-of-turn token in {% generation %}.
    labels = [
        tok if in_answer else IGNORE for tok, in_answer in zip(ids, enc["assistant_masks"], strict=True)
    ]
    return {"input_ids": ids, "labels": labels}


def train_sft(
    model_dir: str | Path,
    train_rows: list[dict],
    val_rows: list[dict],
    cfg: SFTConfig,
    *,
    on_progress: OnProgress | None = None,
    should_stop: ShouldStop | None = None,
) -> dict:
    """Fine-tune on rows {"messages", "tools"?}; resumes from the newest checkpoint in output_dir."""
    out = Path(cfg.output_dir)
    if (done := finished_metrics(out)) is not None:
        return done
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    torch.manual_seed(cfg.seed)
    device = pick_device()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    train, skipped = _examples(tokenizer, train_rows, cfg.max_len)
    val, _ = _examples(tokenizer, val_rows, cfg.max_len)
    if not train:
        raise ValueError("no training example has an assistant token within max_len")

    checkpoint = latest_checkpoint(out)
    model: Any = AutoModelForCausalLM.from_pretrained(checkpoint or model_dir, dtype=torch.float32)
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = total_steps(
        examples=len(train), batch_size=cfg.batch_size, epochs=cfg.epochs, max_steps=cfg.max_steps
    )
    schedule = warmup_cosine(warmup_steps=cfg.warmup_steps, total_steps=total, min_ratio=cfg.min_lr_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    step, counters = 0, {"train_tokens": 0}
    if checkpoint:
        step, counters = restore_training_state(checkpoint, optimizer=optimizer, scheduler=scheduler)
    resumed_from = step

    def checkpoint_now() -> None:
        save_checkpoint(
            out, step=step, model=model, tokenizer=tokenizer, optimizer=optimizer, scheduler=scheduler,
            counters=counters, metrics=metrics, keep=cfg.keep_checkpoints,
        )  # fmt: skip

    metrics: dict = {"step": step, "total_steps": total}
    losses: list[float] = []  # train losses since the last report
    model.train()
    while step < total:
        if should_stop is not None and should_stop():
            checkpoint_now()
            return {**metrics, "step": step, "stopped": True, "resumed_from_step": resumed_from}

        indices = batch_for_step(step, examples=len(train), batch_size=cfg.batch_size, seed=cfg.seed)
        batch = _collate([train[i] for i in indices], tokenizer.pad_token_id, device)
        with autocast(device):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        losses.append(loss.item())
        counters["train_tokens"] += int((batch["labels"] != IGNORE).sum())

        evaluate = step % cfg.eval_every == 0 or step == total
        if evaluate or step % cfg.log_every == 0:
            metrics = {
                "step": step,
                "total_steps": total,
                "epoch": step * cfg.batch_size / len(train),
                "lr": scheduler.get_last_lr()[0],
                "train_loss": sum(losses) / len(losses),
                **counters,
                "elapsed_s": time.monotonic() - started,
            }
            losses = []
            if evaluate and val:
                metrics["val_loss"] = validation_loss(
                    model, val, tokenizer.pad_token_id, cfg.batch_size, device
                )
            if on_progress is not None:
                on_progress(step, total, metrics)
        if step % cfg.checkpoint_every == 0 and step < total:
            checkpoint_now()

    result = {
        **metrics,
        "stopped": False,
        "resumed_from_step": resumed_from,
        "train_examples": len(train),
        "val_examples": len(val),
        "skipped_examples": skipped,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
    }
    result["final_dir"] = str(out / "final")
    save_final(out, model=model, tokenizer=tokenizer, metrics=result)
    return result


@torch.no_grad()
def validation_loss(model, examples: list[dict], pad_id: int, batch_size: int, device: torch.device) -> float:
    """Mean loss per assistant token over the whole validation set."""
    was_training = model.training
    model.eval()
    total_loss, total_tokens = 0.0, 0
    for start in range(0, len(examples), batch_size):
        batch = _collate(examples[start : start + batch_size], pad_id, device)
        with autocast(device):
            loss = model(**batch).loss
        counted = int(
            (batch["labels"][:, 1:] != IGNORE).sum()
        )  # the model predicts each label from the token before
        total_loss += loss.item() * counted
        total_tokens += counted
    model.train(was_training)
    return total_loss / max(1, total_tokens)


def _examples(tokenizer, rows: list[dict], max_len: int) -> tuple[list[dict], int]:
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


def _collate(examples: list[dict], pad_id: int, device: torch.device) -> dict[str, torch.Tensor]:
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
    return {
        "input_ids": input_ids.to(device),
        "labels": labels.to(device),
        "attention_mask": attention_mask.to(device),
    }
