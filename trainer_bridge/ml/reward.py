"""Reward model training with the InstructGPT K-wise loss: one ranking of K answers is one batch element."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

from trainer_bridge.ml.config import RMConfig
from trainer_bridge.ml.sft import _layer_class
from trainer_bridge.ml.training import (
    CoachTrainer,
    Listed,
    OnProgress,
    Ordered,
    Progress,
    ShouldStop,
    autocast,
    check_engine_options,
    finished_metrics,
    load_weights_dtype,
    pick_device,
    quantization,
    reduce_sum,
    run_trainer,
    step_order,
    total_steps,
    training_arguments,
    with_lora,
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


class KwiseTrainer(CoachTrainer):
    """InstructGPT's K-wise loss: a batch element is one ranking; its K answers get one forward each and
    all its untied pairs are compared in one loss term; groups weigh the same."""

    loss_is_scaled_for_ga = False  # a mean over this micro-batch's groups: the Trainer divides by GA steps
    pad_id: int = 0
    pairs_seen: float = 0.0
    pairs_right: float = 0.0
    forwards: list[int] = []
    pair_counts: list[int] = []
    tokens: list[int] = []

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        rewards = (
            model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits[:, 0].float()
        )
        losses = []
        for group_rewards, tiers in zip(rewards.split(inputs["sizes"]), inputs["tiers"], strict=True):
            loss, pairs, right = kwise_loss(group_rewards, tiers.to(group_rewards.device))
            losses.append(loss)
            if model.training:
                self.pairs_seen += pairs
                self.pairs_right += right
        loss = torch.stack(losses).mean()
        return (loss, rewards) if return_outputs else loss

    def running_counters(self, step: int) -> dict[str, Any]:
        seen, right = reduce_sum([self.pairs_seen, self.pairs_right], self.args.device)
        self.pairs_seen = self.pairs_right = 0.0
        pairs = self.pair_counts[step - 1] if step else 0
        return {
            "train_pair_accuracy": right / seen if seen else 0.0,
            "train_sequence_forwards": self.forwards[step - 1] if step else 0,
            "train_tokens": self.tokens[step - 1] if step else 0,
            "train_pairs": pairs,
            # What a pairwise trainer (e.g. TRL's RewardTrainer) needs for the same comparisons.
            "pairwise_sequence_forwards": 2 * pairs,
        }

    def prediction_step(
        self, model: Any, inputs: dict[str, Any], prediction_loss_only: bool, ignore_keys: Any = None
    ) -> Any:
        """Per group: (loss, pairs, pairs ordered right); one row per group (see SFTTrainer's)."""
        with torch.no_grad():
            rewards = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
            rows = []
            for group_rewards, tiers in zip(
                rewards[:, 0].float().split(inputs["sizes"]), inputs["tiers"], strict=True
            ):
                loss, n, c = kwise_loss(group_rewards, tiers.to(rewards.device))
                rows.append(torch.stack([loss, loss.new_tensor(n), loss.new_tensor(c)]))
            sums = torch.stack(rows)
        return sums[:, 0].mean(), sums, sums


def collate_groups(groups: list[dict], pad_id: int) -> dict[str, Any]:
    """Every answer of the micro-batch's rankings in one padded batch; sizes split it back into groups."""
    input_ids, attention_mask = _pad(
        [seq for g in groups for seq in g["sequences"]], pad_id, torch.device("cpu")
    )
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "sizes": [len(g["sequences"]) for g in groups],
        "tiers": [g["tiers"] for g in groups],
    }


def _val_metrics(prediction: Any) -> dict[str, float]:
    """val_loss (mean over groups) and val_pair_accuracy (share of untied pairs the model orders right)."""
    rows = prediction.predictions.reshape(-1, 3)
    pairs, right = rows[:, 1].sum(), rows[:, 2].sum()
    return {"val_loss": float(rows[:, 0].mean()), "val_pair_accuracy": float(right / max(1.0, pairs))}


def train_reward_model(
    model_dir: str | Path,
    train_groups: list[dict],
    val_groups: list[dict],
    cfg: RMConfig,
    *,
    on_progress: OnProgress | None = None,
    should_stop: ShouldStop | None = None,
) -> dict:
    """Train on groups {"prompt", "candidates", "tiers"}; resumes from the newest checkpoint in output_dir.

    Runs on however many processes torchrun started (one when called directly)."""
    out = Path(cfg.output_dir)
    if (done := finished_metrics(out)) is not None:
        return done
    check_engine_options(cfg)
    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    train, skipped = _groups(tokenizer, train_groups, cfg.max_len)
    val, _ = _groups(tokenizer, val_groups, cfg.max_len)
    if not train:
        raise ValueError("no training group has two answers in different tiers")
    total = total_steps(
        examples=len(train), batch_size=cfg.groups_per_batch, epochs=cfg.epochs, max_steps=cfg.max_steps
    )
    order = step_order(examples=len(train), batch_size=cfg.groups_per_batch, steps=total, seed=cfg.seed)

    set_seed(cfg.seed)  # a fresh head starts the same on every process count and every run
    model: Any = AutoModelForSequenceClassification.from_pretrained(
        model_dir,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
        dtype=load_weights_dtype(cfg),
        **quantization(cfg),
    )
    model.config.pad_token_id = tokenizer.pad_token_id  # the score is read at the last non-pad token
    model = with_lora(model, cfg, "SEQ_CLS")
    args = training_arguments(
        cfg, total=total, batch_size=cfg.groups_per_batch, layer_class=_layer_class(model), has_val=bool(val)
    )
    progress = Progress(on_progress, should_stop, started)
    trainer = KwiseTrainer(
        model=model,
        args=args,
        train_dataset=Ordered(train, order),
        eval_dataset=Listed(val) if val else None,
        data_collator=lambda batch: collate_groups(batch, tokenizer.pad_token_id),
        processing_class=tokenizer,
        compute_metrics=_val_metrics,
        callbacks=[progress],
    )
    trainer.forwards, trainer.pair_counts, trainer.tokens = [], [], []
    forwards = pairs = tokens = 0
    for step in range(total):
        for i in order[step * cfg.groups_per_batch : (step + 1) * cfg.groups_per_batch]:
            forwards += len(train[i]["sequences"])
            tokens += sum(len(seq) for seq in train[i]["sequences"])
            pairs += len(ranked_pairs(train[i]["tiers"].tolist()))
        trainer.forwards.append(forwards)
        trainer.pair_counts.append(pairs)
        trainer.tokens.append(tokens)
    return run_trainer(
        trainer,
        progress,
        cfg,
        counts={"train_groups": len(train), "val_groups": len(val), "skipped_groups": skipped},
    )


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
    return Scorer(model_dir).score(prompt_messages, answers, batch_size=batch_size)


class Scorer:
    """A reward model loaded once, scoring the answers of many prompts (a scoring job's whole list)."""

    def __init__(self, model_dir: str | Path) -> None:
        self.device = pick_device()
        self.model, self.tokenizer = load_reward_model(model_dir, self.device)
        self.model.eval()

    @torch.no_grad()
    def score(self, prompt_messages: list[dict], answers: list[str], *, batch_size: int = 16) -> list[float]:
        """Reward of each answer to one prompt."""
        sequences = [_encode(self.tokenizer, prompt_messages, answer, max_len=None) for answer in answers]
        return self.score_sequences(sequences, batch_size=batch_size)

    @torch.no_grad()
    def score_groups(self, groups: list[dict], *, batch_size: int = 64) -> list[list[float]]:
        """Rewards of each group's answers ({"prompt", "candidates"}), batched across groups."""
        sequences = [
            _encode(self.tokenizer, g["prompt"], answer, max_len=None)
            for g in groups
            for answer in g["candidates"]
        ]
        flat, out, at = self.score_sequences(sequences, batch_size=batch_size), [], 0
        for g in groups:
            out.append(flat[at : at + len(g["candidates"])])
            at += len(g["candidates"])
        return out

    def score_sequences(self, sequences: list[list[int]], *, batch_size: int) -> list[float]:
        scores: list[float] = []
        for start in range(0, len(sequences), batch_size):
            input_ids, attention_mask = _pad(
                sequences[start : start + batch_size], self.tokenizer.pad_token_id, self.device
            )
            with autocast(self.device):
                logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
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
