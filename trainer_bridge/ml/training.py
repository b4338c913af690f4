"""What SFT and the reward model share: a transformers Trainer set up from Coach's config, on any number
of processes (torchrun: gloo on the CPU, nccl on GPUs), with LoRA, gradient checkpointing, gradient
accumulation, bf16 on GPUs, FSDP or DeepSpeed ZeRO; checkpoints, resume, progress reports.

The data order is a pure function of the step (a fixed permutation per epoch, read in order), so a
resumed run, and a run on 2 processes, sees the same examples at each step as one uninterrupted run
on 1 process: every optimizer step takes `batch_size` examples in all, split over processes and
gradient-accumulation micro-steps.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, SequentialSampler
from transformers import Trainer, TrainerCallback, TrainingArguments

from trainer_bridge.ml.config import RMConfig, SFTConfig

OnProgress = Callable[[int, int, dict], None]  # (step, total_steps, metrics)
ShouldStop = Callable[[], bool]

TRAINER_STATE = "trainer_state.json"  # written last into a checkpoint: its presence marks a complete one
FINAL = "final"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device) -> Any:
    """bfloat16 autocast on GPU; plain float32 on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def world_size() -> int:
    """Processes torchrun started (read before the Trainer sets up the process group)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def total_steps(*, examples: int, batch_size: int, epochs: int, max_steps: int | None) -> int:
    return max_steps if max_steps is not None else epochs * math.ceil(examples / batch_size)


def step_order(*, examples: int, batch_size: int, steps: int, seed: int) -> list[int]:
    """Example indices, `batch_size` per step for `steps` steps: a new permutation each epoch."""
    order: list[int] = []
    epoch = 0
    while len(order) < steps * batch_size:
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
        order.extend(torch.randperm(examples, generator=generator).tolist())
        epoch += 1
    return order[: steps * batch_size]


class Ordered(Dataset):
    """The examples in the order training reads them (a view: examples are not copied)."""

    def __init__(self, examples: list[dict[str, Any]], order: list[int]) -> None:
        self.examples, self.order = examples, order

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.examples[self.order[index]]


class Listed(Dataset):
    def __init__(self, examples: list[dict[str, Any]]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.examples[index]


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint; a half-written one (killed while saving) is removed."""
    if not output_dir.is_dir():
        return None
    found = sorted(
        ((int(m.group(1)), p) for p in output_dir.iterdir() if (m := _CHECKPOINT.match(p.name))), reverse=True
    )
    for _, path in found:
        if (path / TRAINER_STATE).is_file():
            return path
    return None


def finished_metrics(output_dir: Path) -> dict | None:
    """Metrics of a run that already finished, so running a job twice trains once."""
    path = Path(output_dir) / FINAL / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def per_device_batch(cfg: SFTConfig | RMConfig, batch_size: int) -> int:
    """Examples per process and micro-step; the step's examples must split evenly."""
    parts = world_size() * cfg.gradient_accumulation_steps
    if batch_size % parts:
        raise ValueError(
            f"a step's {batch_size} examples do not split over {world_size()} processes × "
            f"{cfg.gradient_accumulation_steps} accumulation steps; make the batch a multiple of {parts}"
        )
    return batch_size // parts


def check_engine_options(cfg: SFTConfig | RMConfig) -> None:
    """Refuse options this machine cannot run, with the reason."""
    if cfg.qlora:
        if not torch.cuda.is_available() or importlib.util.find_spec("bitsandbytes") is None:
            raise ValueError("QLoRA needs a GPU and bitsandbytes; this worker has neither: use lora_r alone")
    if cfg.deepspeed and importlib.util.find_spec("deepspeed") is None:
        raise ValueError("DeepSpeed is not installed on this worker: pip install deepspeed (GPU machines)")
    if cfg.deepspeed and cfg.fsdp:
        raise ValueError("choose FSDP or DeepSpeed, not both")
    if cfg.fsdp and cfg.lora_r:
        raise ValueError("FSDP shards a full fine-tune; LoRA trains few enough weights to run without it")


def load_weights_dtype(cfg: SFTConfig | RMConfig) -> torch.dtype:
    """bf16 weights on GPUs for a LoRA run (the frozen base); float32 masters otherwise (bf16 autocast)."""
    if torch.cuda.is_available() and cfg.bf16 and (cfg.lora_r or cfg.qlora):
        return torch.bfloat16
    return torch.float32


def quantization(cfg: SFTConfig | RMConfig) -> dict[str, Any]:
    if not cfg.qlora:
        return {}
    from transformers import BitsAndBytesConfig

    return {
        "quantization_config": BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
    }


def with_lora(model: Any, cfg: SFTConfig | RMConfig, task_type: str) -> Any:
    """LoRA adapters on every linear layer (the reward head is trained in full); the base stays frozen."""
    if not (cfg.lora_r or cfg.qlora):
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.qlora:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    lora = LoraConfig(
        r=cfg.lora_r or 16,
        lora_alpha=cfg.lora_alpha or 2 * (cfg.lora_r or 16),
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type=task_type,
    )
    return get_peft_model(model, lora)


def training_arguments(
    cfg: SFTConfig | RMConfig, *, total: int, batch_size: int, layer_class: str, has_val: bool
) -> TrainingArguments:
    per_device = per_device_batch(cfg, batch_size)
    extra: dict[str, Any] = {}
    if cfg.fsdp:
        extra["fsdp"] = "full_shard auto_wrap"
        extra["fsdp_config"] = {"transformer_layer_cls_to_wrap": [layer_class], "use_orig_params": True}
    if cfg.deepspeed:
        extra["deepspeed"] = cfg.deepspeed
    on_gpu = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=str(cfg.output_dir),
        max_steps=total,
        num_train_epochs=1,
        per_device_train_batch_size=per_device,
        per_device_eval_batch_size=per_device,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        activation_checkpointing=bool(cfg.gradient_checkpointing),
        activation_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        learning_rate=cfg.lr,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": cfg.min_lr_ratio},
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.grad_clip,
        logging_steps=cfg.log_every,
        eval_strategy="steps" if has_val else "no",
        eval_steps=cfg.eval_every,
        save_strategy="steps",
        save_steps=cfg.checkpoint_every,
        save_total_limit=cfg.keep_checkpoints,
        bf16=on_gpu and bool(cfg.bf16),
        use_cpu=not on_gpu,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_drop_last=False,
        ddp_find_unused_parameters=False,
        save_only_model=False,
        **extra,
    )


class CoachTrainer(Trainer):
    """Reads the training examples in the given order; evaluation sums loss over examples and reports
    it through `evaluation_sums` (each subclass says what it sums)."""

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        dataset: Any = train_dataset if train_dataset is not None else self.train_dataset
        return SequentialSampler(dataset)

    def running_counters(self, step: int) -> dict[str, Any]:
        return {}

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            logs = {**logs, **self.running_counters(self.state.global_step)}
        super().log(logs, start_time)


def reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum over every process (no-op on one)."""
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if torch.distributed.is_initialized():
        torch.distributed.all_reduce(tensor)
    return tensor.tolist()


_RENAME = {"loss": "train_loss", "learning_rate": "lr"}


class Progress(TrainerCallback):
    """Turns the Trainer's logs into Coach's metrics per step (train and validation merged) and calls
    on_progress; asks to stop (with a checkpoint) when should_stop() says so (single-process runs)."""

    def __init__(
        self, on_progress: OnProgress | None, should_stop: ShouldStop | None, started: float
    ) -> None:
        self.on_progress, self.should_stop, self.started = on_progress, should_stop, started
        self.step, self.stopped = -1, False
        self.metrics: dict[str, Any] = {}
        self.last: dict[str, Any] = {}

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if logs and "train_runtime" not in logs:
            self._add(state.global_step, state.max_steps, logs, report=state.is_world_process_zero)

    def _add(self, step: int, total: int, logs: dict[str, Any], *, report: bool) -> None:
        if step != self.step:
            self.step, self.metrics = step, {}
        for key, value in logs.items():
            if key in ("eval_loss", "grad_norm", "step") or key.startswith(
                ("eval_runtime", "eval_samples", "eval_steps")
            ):
                continue
            self.metrics[_RENAME.get(key, key.removeprefix("eval_"))] = value
        self.metrics.update(step=step, total_steps=total, elapsed_s=time.monotonic() - self.started)
        self.last = {**self.last, **self.metrics}
        if self.on_progress is not None and report:
            self.on_progress(step, total, dict(self.metrics))

    def replay(self, checkpoint: Path, *, report: bool) -> None:
        """Report again what a checkpoint logged: steps a killed run trained and saved but whose reports
        never reached the job (the processes outlive their supervisor by an instant)."""
        state = json.loads((checkpoint / TRAINER_STATE).read_text())
        for logs in state.get("log_history", []):
            if "train_runtime" not in logs:
                self._add(int(logs["step"]), int(state["max_steps"]), logs, report=report)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.should_stop is not None and state.global_step < state.max_steps and self.should_stop():
            control.should_save = True
            control.should_training_stop = True
            self.stopped = True


def run_trainer(
    trainer: CoachTrainer,
    progress: Progress,
    cfg: SFTConfig | RMConfig,
    *,
    counts: dict[str, Any],
) -> dict[str, Any]:
    """Train (resuming from the newest complete checkpoint), evaluate, save output_dir/final atomically."""
    out = Path(cfg.output_dir)
    checkpoint = latest_checkpoint(out)
    resumed_from = int(checkpoint.name.split("-")[1]) if checkpoint else 0
    if checkpoint:
        progress.replay(checkpoint, report=trainer.is_world_process_zero())
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    step = trainer.state.global_step
    if progress.stopped:
        return {**progress.last, "step": step, "stopped": True, "resumed_from_step": resumed_from}
    evaluated: Any = trainer.eval_dataset
    has_val = evaluated is not None and len(evaluated) > 0
    if has_val and not (progress.step == step and "val_loss" in progress.metrics):
        trainer.evaluate()  # the last step was not an evaluation step: the result has its validation
    metrics = dict(progress.last)
    result = {
        **metrics,
        "step": step,
        "total_steps": trainer.state.max_steps,
        "stopped": False,
        "resumed_from_step": resumed_from,
        **counts,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "processes": world_size(),
        "adapter": bool(cfg.lora_r or cfg.qlora),
        "final_dir": str(out / FINAL),
    }
    tmp = out / ".tmp-final"
    if trainer.is_world_process_zero():
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(tmp))  # every rank: FSDP and ZeRO-3 gather the shards here
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        (tmp / "metrics.json").write_text(json.dumps(result, indent=2))
        shutil.rmtree(out / FINAL, ignore_errors=True)
        tmp.rename(out / FINAL)
    trainer.accelerator.wait_for_everyone()
    return result
