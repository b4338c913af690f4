"""What the SFT and reward-model loops share: device, schedule, data order, checkpoints."""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

OnProgress = Callable[[int, int, dict], None]  # (step, total_steps, metrics)
ShouldStop = Callable[[], bool]

STATE_FILE = "trainer_state.pt"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device):
    """bfloat16 autocast on GPU (weights and optimizer stay float32); plain float32 on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def warmup_cosine(*, warmup_steps: int, total_steps: int, min_ratio: float) -> Callable[[int], float]:
    """LR multiplier: linear warm-up, then cosine decay to min_ratio (nanoGPT's schedule)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def total_steps(*, examples: int, batch_size: int, epochs: int, max_steps: int | None) -> int:
    return max_steps if max_steps is not None else epochs * math.ceil(examples / batch_size)


def batch_for_step(step: int, *, examples: int, batch_size: int, seed: int) -> list[int]:
    """Example indices of a step. A pure function of the step, so a resumed run sees the same batches."""
    per_epoch = math.ceil(examples / batch_size)
    epoch, index = divmod(step, per_epoch)
    order = torch.randperm(examples, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    return order[index * batch_size : (index + 1) * batch_size].tolist()


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint; half-written ones live under a .tmp- name and are ignored."""
    if not output_dir.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in output_dir.iterdir() if (m := _CHECKPOINT.match(p.name))]
    found = [(step, p) for step, p in found if (p / STATE_FILE).is_file()]
    return max(found)[1] if found else None


def save_checkpoint(
    output_dir: Path,
    *,
    step: int,
    model,
    tokenizer,
    optimizer,
    scheduler,
    counters: dict[str, int],
    metrics: dict,
    keep: int,
) -> Path:
    """Write output_dir/checkpoint-STEP atomically (tmp dir, then rename) and keep the newest `keep`.

    A checkpoint is also a loadable model dir (weights, config, tokenizer), so it can be evaluated as is.
    """
    final = output_dir / f"checkpoint-{step}"
    if (final / STATE_FILE).is_file():
        return final  # already saved (a resumed run asked to stop before its first step)
    tmp = output_dir / f".tmp-checkpoint-{step}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    state = {
        "step": step,
        "counters": counters,  # running totals (tokens, forwards) that must survive a resume
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng_torch": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "rng_python": random.getstate(),
    }
    torch.save(state, tmp / STATE_FILE)
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    _prune_checkpoints(output_dir, keep=keep)
    return final


def restore_training_state(checkpoint: Path, *, optimizer, scheduler) -> tuple[int, dict[str, int]]:
    """Load optimizer, scheduler and RNG state (weights come with from_pretrained); returns step, counters."""
    state = torch.load(checkpoint / STATE_FILE, weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng_torch"])
    if state["rng_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng_cuda"])
    random.setstate(state["rng_python"])
    return int(state["step"]), dict(state["counters"])


def save_final(output_dir: Path, *, model, tokenizer, metrics: dict) -> Path:
    """output_dir/final: a loadable model dir plus metrics.json, written atomically."""
    final = output_dir / "final"
    tmp = output_dir / ".tmp-final"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def finished_metrics(output_dir: Path) -> dict | None:
    """Metrics of a run that already finished, so running a job twice trains once."""
    path = output_dir / "final" / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _prune_checkpoints(output_dir: Path, *, keep: int) -> None:
    found = sorted((int(m.group(1)), p) for p in output_dir.iterdir() if (m := _CHECKPOINT.match(p.name)))
    for _, path in found[: max(0, len(found) - keep)]:
        shutil.rmtree(path, ignore_errors=True)
