"""Reward model training with the InstructGPT K-wise loss: one ranking of K answers is one batch element."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from trainer_bridge.ml.config import RMConfig
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


def ranked_pairs(tiers: list[int]) -> list[tuple[int, int]]:
    """(better, worse) candidate indices of every untied pair; tier 0 is best, equal tiers give no pair."""
    return [(i, j) for i in range(len(tiers)) for j in range(len(tiers)) if tiers[i] < tiers[j]]


def kwise_loss(rewards: torch.Tensor, tiers: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """-mean log σ(r_better − r_worse) over a group's untied pairs; returns (loss, pairs, pairs right)."""
    better = tiers[:, None] < tiers[None, :]  # better[i, j]: answer i was ranked above answer j
    margins = (rewards[:, None] - rewards[None, :])[better]
    if margins.numel() == 0:
        raise ValueError("a group whose answers are all tied has no pair to learn from")
    return -F.logsigmoid(margins).mean(), margins.numel(), int((margins > 0).sum())


def load_reward_model(model_dir: str | Path, device: torch.device, *, dtype: torch.dtype = torch.float32):
    """A scalar-head classifier; from a causal LM dir the head starts fresh, from an RM dir it is loaded."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=1, pad_token_id=tokenizer.pad_token_id, dtype=dtype
    )
    # The score is read at the last non-pad token, so the model must know which id is padding.
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.to(device), tokenizer


def train_reward_model(
    model_dir: str | Path,
    train_groups: list[dict],
    val_groups: list[dict],
    cfg: RMConfig,
    *,
    on_progress: OnProgress | None = None,
    should_stop: ShouldStop | None = None,
) -> dict:
    """Train on groups {"prompt", "candidates", "tiers"}; resumes from the newest checkpoint in output_dir."""
    out = Path(cfg.output_dir)
    if (done := finished_metrics(out)) is not None:
        return done
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    torch.manual_seed(cfg.seed)
    device = pick_device()
    checkpoint = latest_checkpoint(out)
    model, tokenizer = load_reward_model(checkpoint or model_dir, device)
    train, skipped = _groups(tokenizer, train_groups, cfg.max_len)
    val, _ = _groups(tokenizer, val_groups, cfg.max_len)
    if not train:
        raise ValueError("no training group has two answers in different tiers")

    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = total_steps(
        examples=len(train), batch_size=cfg.groups_per_batch, epochs=cfg.epochs, max_steps=cfg.max_steps
    )
    schedule = warmup_cosine(warmup_steps=cfg.warmup_steps, total_steps=total, min_ratio=cfg.min_lr_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    step, counters = 0, {"train_sequence_forwards": 0, "train_pairs": 0}
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
    pairs = correct = 0  # train pairs since the last report
    model.train()
    while step < total:
        if should_stop is not None and should_stop():
            checkpoint_now()
            return {**metrics, "step": step, "stopped": True, "resumed_from_step": resumed_from}

        indices = batch_for_step(step, examples=len(train), batch_size=cfg.groups_per_batch, seed=cfg.seed)
        groups = [train[i] for i in indices]
        with autocast(device):
            group_rewards = _rewards(model, groups, tokenizer.pad_token_id, device)
            results = [
                kwise_loss(r, g["tiers"].to(device)) for r, g in zip(group_rewards, groups, strict=True)
            ]
            loss = torch.stack([group_loss for group_loss, _, _ in results]).mean()  # groups weigh the same
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        losses.append(loss.item())
        pairs += sum(n for _, n, _ in results)
        correct += sum(c for _, _, c in results)
        counters["train_sequence_forwards"] += sum(len(g["sequences"]) for g in groups)
        counters["train_pairs"] += sum(n for _, n, _ in results)

        evaluate = step % cfg.eval_every == 0 or step == total
        if evaluate or step % cfg.log_every == 0:
            metrics = {
                "step": step,
                "total_steps": total,
                "epoch": step * cfg.groups_per_batch / len(train),
                "lr": scheduler.get_last_lr()[0],
                "train_loss": sum(losses) / len(losses),
                "train_pair_accuracy": correct / pairs,
                **counters,
                # What a pairwise trainer (e.g. TRL's RewardTrainer) needs for the same comparisons.
                "pairwise_sequence_forwards": 2 * counters["train_pairs"],
                "elapsed_s": time.monotonic() - started,
            }
            losses, pairs, correct = [], 0, 0
            if evaluate and val:
                metrics.update(
                    validation_metrics(model, val, tokenizer.pad_token_id, cfg.groups_per_batch, device)
                )
            if on_progress is not None:
                on_progress(step, total, metrics)
        if step % cfg.checkpoint_every == 0 and step < total:
            checkpoint_now()

    result = {
        **metrics,
        "stopped": False,
        "resumed_from_step": resumed_from,
        "train_groups": len(train),
        "val_groups": len(val),
        "skipped_groups": skipped,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
    }
    result["final_dir"] = str(out / "final")
    save_final(out, model=model, tokenizer=tokenizer, metrics=result)
    return result


@torch.no_grad()
def validation_metrics(model, groups: list[dict], pad_id: int, groups_per_batch: int, device) -> dict:
    """val_loss (mean over groups) and val_pair_accuracy (share of untied pairs the model orders right)."""
    was_training = model.training
    model.eval()
    losses, pairs, correct = [], 0, 0
    for start in range(0, len(groups), groups_per_batch):
        batch = groups[start : start + groups_per_batch]
        with autocast(device):
            for rewards, group in zip(_rewards(model, batch, pad_id, device), batch, strict=True):
                loss, n, c = kwise_loss(rewards.float(), group["tiers"].to(device))
                losses.append(loss.item())
                pairs, correct = pairs + n, correct + c
    model.train(was_training)
    return {"val_loss": sum(losses) / len(losses), "val_pair_accuracy": correct / pairs}


@torch.no_grad()
def score(
    model_dir: str | Path, prompt_messages: list[dict], answers: list[str], *, batch_size: int = 16
) -> list[float]:
    """Reward of each answer to one prompt, from a trained reward model dir."""
    device = pick_device()
    model, tokenizer = load_reward_model(model_dir, device)
    model.eval()
    sequences = [_encode(tokenizer, prompt_messages, answer, max_len=None) for answer in answers]
    scores: list[float] = []
    for start in range(0, len(sequences), batch_size):
        input_ids, attention_mask = _pad(
            sequences[start : start + batch_size], tokenizer.pad_token_id, device
        )
        with autocast(device):
            logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        scores.extend(logits[:, 0].float().tolist())
    return scores


@torch.no_grad()
def score_loaded(
    model, tokenizer, pairs: list[tuple[list[dict], str]], *, batch_size: int = 16
) -> list[float]:
    """Reward of each (prompt messages, answer) pair from an already loaded reward model."""
    device = next(model.parameters()).device
    sequences = [_encode(tokenizer, prompt, answer, max_len=None) for prompt, answer in pairs]
    scores: list[float] = []
    for start in range(0, len(sequences), batch_size):
        input_ids, attention_mask = _pad(
            sequences[start : start + batch_size], tokenizer.pad_token_id, device
        )
        with autocast(device):
            logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        scores.extend(logits[:, 0].float().tolist())
    return scores


def _rewards(model, groups: list[dict], pad_id: int, device) -> list[torch.Tensor]:
    """One forward over every answer of the batch's groups (K per group, not 2 per pair)."""
    sequences = [seq for g in groups for seq in g["sequences"]]
    input_ids, attention_mask = _pad(sequences, pad_id, device)
    rewards = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, 0].float()
    return list(rewards.split([len(g["sequences"]) for g in groups]))


def _groups(tokenizer, rows: list[dict], max_len: int) -> tuple[list[dict], int]:
    """Tokenize each group's answers; groups with every answer tied teach nothing and are skipped."""
    groups, skipped = [], 0
    for row in rows:
        if len(row["candidates"]) != len(row["tiers"]):
            raise ValueError("a group needs one tier per candidate")
        if not ranked_pairs(row["tiers"]):
            skipped += 1
            continue
        sequences = [
            _encode(tokenizer, row["prompt"], answer, max_len=max_len) for answer in row["candidates"]
        ]
        groups.append({"sequences": sequences, "tiers": torch.tensor(row["tiers"])})
    return groups, skipped


def _encode(tokenizer, prompt: list[dict], answer: str, *, max_len: int | None) -> list[int]:
    """Prompt + answer as one chat; cut from the left so the answer's end, where the score is read, stays."""
    ids = tokenizer.apply_chat_template(
        [*prompt, {"role": "assistant", "content": answer}], tokenize=True, return_dict=True
    )["input_ids"]
    return list(ids)[-max_len:] if max_len else list(ids)


def _pad(sequences: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right padding; the classifier reads the last non-pad token of each row."""
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        attention_mask[row, : len(seq)] = 1
    return input_ids.to(device), attention_mask.to(device)
