"""Direct preference optimization with TRL's DPOTrainer on conversational preference pairs.

Rows are TRL's conversational preference format, as the reward-model pair export writes them:
`{"prompt": [messages], "chosen": [assistant turn], "rejected": [assistant turn]}`. The reference model is
the starting model: a frozen copy for full training, the same weights with the adapter switched off for
LoRA (TRL's own choice). Checkpoints are TRL's (`checkpoint-STEP` with optimizer, scheduler and RNG
state); a run resumes from the newest complete one. A LoRA adapter is merged into the weights of the
final model, so every engine loads it like any other causal LM.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import DPOConfig as TRLDPOConfig
from trl import DPOTrainer

from trainer_bridge.ml.config import DPO_LOSSES, DPOConfig
from trainer_bridge.ml.training import OnProgress, ShouldStop, finished_metrics, latest_checkpoint

FINAL = "final"
# TRL's log keys → the names Coach's curves use (train and validation)
_REPORTED = {
    "loss": "train_loss",
    "rewards/margins": "reward_margin",
    "rewards/accuracies": "reward_accuracy",
    "rewards/chosen": "reward_chosen",
    "rewards/rejected": "reward_rejected",
    "logps/chosen": "logp_chosen",
    "logps/rejected": "logp_rejected",
    "learning_rate": "lr",
    "epoch": "epoch",
    "eval_loss": "val_loss",
    "eval_rewards/margins": "val_reward_margin",
    "eval_rewards/accuracies": "val_reward_accuracy",
    "eval_logps/chosen": "val_logp_chosen",
    "eval_logps/rejected": "val_logp_rejected",
}


def preference_dataset(rows: list[dict[str, Any]]) -> Dataset:
    """The pairs as a datasets.Dataset of TRL's conversational preference columns only."""
    if not rows:
        raise ValueError("no preference pair: every ranking is tied or there are no rankings")
    return Dataset.from_list(
        [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in rows]
    )


class _Report(TrainerCallback):
    """Hands each log to on_progress; asks the trainer to save and stop when should_stop says so."""

    def __init__(self, on_progress: OnProgress | None, should_stop: ShouldStop | None) -> None:
        self.on_progress, self.should_stop = on_progress, should_stop
        self.stopped = False
        self.step = -1
        self.current: dict[str, Any] = {}  # the reports of one step (train and validation come apart)
        self.last: dict[str, Any] = {}  # the newest value of every figure, for the result
        self.started = time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs):
        """A resumed run reports again what its checkpoint logged: a step trained and saved whose report
        never reached the job (the processes outlive their supervisor by an instant) keeps its point."""
        logged: dict[int, dict[str, Any]] = {}
        for entry in state.log_history:
            values = {_REPORTED[key]: float(value) for key, value in entry.items() if key in _REPORTED}
            if values:
                logged.setdefault(int(entry["step"]), {}).update(values)
        for step, values in sorted(logged.items()):
            self.last |= values
            if self.on_progress is not None and state.is_world_process_zero:
                counted = {"step": step, "total_steps": state.max_steps}
                self.on_progress(step, state.max_steps, values | counted)
        return control

    def on_step_end(self, args, state, control, **kwargs):
        if self.should_stop is not None and state.global_step < state.max_steps and self.should_stop():
            self.stopped = True
            control.should_save = True  # a checkpoint at this step, so a retry resumes here
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        values = {_REPORTED[key]: float(value) for key, value in (logs or {}).items() if key in _REPORTED}
        if not values:
            return control
        values |= {
            "step": state.global_step,
            "total_steps": state.max_steps,
            "elapsed_s": time.monotonic() - self.started,
        }
        if state.global_step != self.step:
            self.step, self.current = state.global_step, {}
        self.current |= values
        self.last |= values
        if self.on_progress is not None and state.is_world_process_zero:
            self.on_progress(state.global_step, state.max_steps, dict(self.current))
        return control


def train_dpo(
    model_dir: str | Path,
    train_rows: list[dict[str, Any]],
    val_rows: list[dict[str, Any]],
    cfg: DPOConfig,
    *,
    on_progress: OnProgress | None = None,
    should_stop: ShouldStop | None = None,
) -> dict[str, Any]:
    """Train a policy on preference pairs; resumes from the newest checkpoint in output_dir."""
    if cfg.loss_type not in DPO_LOSSES:
        raise ValueError(f"loss_type is one of {list(DPO_LOSSES)}")
    out = Path(cfg.output_dir)
    if (done := finished_metrics(out)) is not None:
        return done
    out.mkdir(parents=True, exist_ok=True)
    train, val = preference_dataset(train_rows), (preference_dataset(val_rows) if val_rows else None)
    cuda = torch.cuda.is_available()
    processes = int(os.environ.get("WORLD_SIZE", "1"))  # torchrun's ranks (the group starts in the trainer)
    if cfg.batch_size % processes:
        raise ValueError(f"a step's {cfg.batch_size} pairs do not split over {processes} processes")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    per_epoch = math.ceil(len(train) / cfg.batch_size)
    total = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * per_epoch
    args = TRLDPOConfig(
        output_dir=str(out),
        loss_type=[cfg.loss_type],
        beta=cfg.beta,
        learning_rate=cfg.lr,
        lr_scheduler_type="cosine",
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.grad_clip,
        max_steps=total,
        per_device_train_batch_size=cfg.batch_size // processes,
        per_device_eval_batch_size=cfg.batch_size // processes,
        max_length=cfg.max_len,
        logging_steps=cfg.log_every,
        eval_strategy="steps" if val is not None else "no",
        eval_steps=cfg.eval_every,
        save_strategy="steps",
        save_steps=cfg.checkpoint_every,
        save_total_limit=cfg.keep_checkpoints,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=cuda and cfg.bf16,
        use_cpu=not cuda,
        report_to=[],
        disable_tqdm=True,
        dataloader_num_workers=0,
        gradient_checkpointing=cfg.gradient_checkpointing,
        ddp_find_unused_parameters=False,
    )
    peft_config = None
    if cfg.lora_r > 0:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=cfg.lora_r, lora_alpha=cfg.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM"
        )
    report = _Report(on_progress, should_stop)
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=val,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[report],
    )
    checkpoint = latest_checkpoint(out)
    resumed_from = int(checkpoint.name.split("-")[1]) if checkpoint else 0
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    step = trainer.state.global_step
    metrics: dict[str, Any] = {**report.last, "step": step, "total_steps": total}
    if report.stopped:
        return {**metrics, "stopped": True, "resumed_from_step": resumed_from}
    if val is not None and step % cfg.eval_every != 0:  # the last validation is at the end
        for key, value in trainer.evaluate().items():
            if key in _REPORTED:
                metrics[_REPORTED[key]] = float(value)
    policy: Any = trainer.model
    if peft_config is not None:
        policy = policy.merge_and_unload()
    result = {
        **metrics,
        "stopped": False,
        "resumed_from_step": resumed_from,
        "train_pairs": len(train),
        "val_pairs": len(val) if val is not None else 0,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "processes": processes,
        "final_dir": str(out / FINAL),
    }
    if trainer.is_world_process_zero():
        _save_final(out, policy, tokenizer, result)
    trainer.accelerator.wait_for_everyone()
    return result


def _save_final(out: Path, model: Any, tokenizer: Any, metrics: dict[str, Any]) -> None:
    """output_dir/final: a loadable model dir plus metrics.json, written atomically."""
    tmp = out / ".tmp-final"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
    shutil.rmtree(out / FINAL, ignore_errors=True)
    tmp.rename(out / FINAL)
