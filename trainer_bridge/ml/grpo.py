"""GRPO on a practice set with TRL's GRPOTrainer: the practice set's verifiers are the reward functions.

Each row is a problem: `prompt` (chat messages), and the columns its verifier reads as ground truth
(`answer`, `verifier`, `options` as JSON). TRL hands every dataset column to the reward functions,
so the verifier reward checks each sampled solution against its own problem's answer. Rollouts use
TRL's own generation (transformers `generate`), which runs on the CPU; TRL syncs weights to a vLLM
server only on CUDA.

Every `eval_every` steps the policy answers the held-out problems greedily (pass@1); the run stops
early when that pass rate has not set a new best for `patience` checks. Checkpoints are the
Trainer's own (`checkpoint-N`, optimizer and RNG included), and the held-out history rides in their
`trainer_state.json`, so a resumed run keeps its patience count.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from curation.verifiers import check
from trainer_bridge.ml.config import GRPOSettings
from trainer_bridge.ml.training import OnProgress, ShouldStop, finished_metrics

logger = logging.getLogger(__name__)

OnLine = Callable[[str], None]
HELDOUT = "heldout_pass_rate"
MAX_ERROR_LINES = 20  # a verifier that raises on every sample logs this many lines, then only counts
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# TRL's logged names, and the names a job's curves use
_REPORTED = {
    "reward": "mean_reward",
    "kl": "kl",
    "completions/mean_length": "response_length",
    "rewards/verifier/mean": "verifier_reward",
    "rewards/reward_model/mean": "reward_model_score",
    "verifier_errors": "verifier_errors",
    "loss": "loss",
    "learning_rate": "lr",
}


def problem_row(
    prompt: list[dict[str, Any]], answer: str, verifier: str, options: dict[str, Any]
) -> dict[str, Any]:
    """One dataset row: the prompt and its verifier's ground truth as columns."""
    return {"prompt": prompt, "answer": answer, "verifier": verifier, "options": json.dumps(options)}


def completion_text(completion: Any) -> str:
    """A sampled solution's text; conversational completions are a list of messages."""
    if isinstance(completion, list):
        return str(completion[-1].get("content") or "") if completion else ""
    return str(completion)


def verify_or_zero(answer: str, verifier: str, options: str, solution: str, on_error: OnLine) -> float:
    """1.0 for a right answer; a verifier that raises scores 0.0 and reports a line, never a crash."""
    try:
        return 1.0 if check(verifier, answer, json.loads(options), solution)[1] else 0.0
    except Exception as exc:  # noqa: BLE001 — any failure of a check is a zero reward, not a failed run
        on_error(f"the {verifier} verifier raised {type(exc).__name__}: {exc} (answer {answer!r}); reward 0")
        return 0.0


def verifier_reward(on_line: OnLine | None = None) -> Callable[..., list[float]]:
    """TRL reward function over the practice set's columns; raising checks are logged (up to a cap)."""
    lines = 0

    def on_error(line: str) -> None:
        nonlocal lines
        logger.warning(line)
        lines += 1
        if on_line is not None and lines <= MAX_ERROR_LINES:
            on_line(line if lines < MAX_ERROR_LINES else f"{line} (further errors are only counted)")

    def verifier(
        completions: list[Any],
        answer: list[str],
        verifier: list[str],
        options: list[str],
        log_metric: Callable[[str, float], None] | None = None,
        **_: Any,
    ) -> list[float]:
        before = lines
        rewards = [
            verify_or_zero(want, kind, opts, completion_text(c), on_error)
            for c, want, kind, opts in zip(completions, answer, verifier, options, strict=True)
        ]
        if log_metric is not None:
            log_metric("verifier_errors", float(lines - before))
        return rewards

    return verifier


def reward_model_reward(model_dir: str | Path, device: torch.device) -> Callable[..., list[float]]:
    """A reward-model version as a TRL reward function: its score of each prompt and solution."""
    from trainer_bridge.ml.reward import load_reward_model, score_loaded

    model, tokenizer = load_reward_model(model_dir, device)
    model.eval()

    def reward_model(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        pairs = [(list(p), completion_text(c)) for p, c in zip(prompts, completions, strict=True)]
        return score_loaded(model, tokenizer, pairs)

    return reward_model


@torch.no_grad()
def pass_rate(model: Any, tokenizer: Any, rows: list[dict[str, Any]], *, max_new_tokens: int) -> float:
    """Held-out pass@1: one greedy solution per problem, checked by its verifier (a raise is a miss)."""
    if not rows:
        return 0.0
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    right = 0
    for start in range(0, len(rows), 64):
        batch = rows[start : start + 64]
        texts = [
            tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=False)
            for r in batch
        ]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        out = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        solutions = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        for row, solution in zip(batch, solutions, strict=True):
            right += int(
                verify_or_zero(row["answer"], row["verifier"], row["options"], solution, logger.warning)
            )
    tokenizer.padding_side = side
    model.train(was_training)
    return right / len(rows)


def latest_trainer_checkpoint(output_dir: Path) -> Path | None:
    """The newest checkpoint the Trainer finished writing (its trainer_state.json is written last)."""
    if not output_dir.is_dir():
        return None
    found = [
        (int(m.group(1)), p)
        for p in output_dir.iterdir()
        if (m := _CHECKPOINT.match(p.name)) and (p / "trainer_state.json").is_file()
    ]
    return max(found)[1] if found else None


class _Watch(TrainerCallback):
    """Held-out checks, early stop, cancel, and one progress report per logged step."""

    def __init__(
        self,
        *,
        cfg: GRPOSettings,
        tokenizer: Any,
        heldout: list[dict[str, Any]],
        on_progress: OnProgress | None,
        should_stop: ShouldStop | None,
    ) -> None:
        self.cfg, self.tokenizer, self.heldout = cfg, tokenizer, heldout
        self.on_progress, self.should_stop = on_progress, should_stop
        self.history: list[tuple[int, float]] = []
        self.best, self.since_best = -1.0, 0
        self.pending: float | None = None
        self.stopped = False
        self.early_stop_step: int | None = None
        self.started = time.monotonic()

    def _judge(self, step: int, rate: float) -> None:
        self.history.append((step, rate))
        if rate > self.best + 1e-9:
            self.best, self.since_best = rate, 0
        else:
            self.since_best += 1

    def _evaluate(self, state: Any, model: Any) -> float:
        rate = pass_rate(model, self.tokenizer, self.heldout, max_new_tokens=self.cfg.max_completion_length)
        state.log_history.append({"step": state.global_step, HELDOUT: rate})  # saved with each checkpoint
        self._judge(state.global_step, rate)
        return rate

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **_: Any) -> None:
        # A resumed run replays the checks it made before, and reports again what its checkpoint logged:
        # a step trained and saved whose report never reached the job (the processes outlive their
        # supervisor by an instant) keeps its point; a step reported twice keeps one.
        logged: dict[int, dict[str, Any]] = {}
        for entry in state.log_history:
            if HELDOUT in entry:
                self._judge(int(entry["step"]), float(entry[HELDOUT]))
            logged.setdefault(int(entry["step"]), {}).update(entry)
        if self.on_progress is not None and state.is_world_process_zero:
            for step, entry in sorted(logged.items()):
                if values := self._values(entry):
                    self.on_progress(step, state.max_steps, values)
        if not self.history and self.heldout:
            rate = self._evaluate(state, model)
            if self.on_progress is not None:
                self.on_progress(0, state.max_steps, {HELDOUT: rate, "elapsed_s": 0.0})

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **_: Any) -> None:
        step = state.global_step
        if self.heldout and (step % self.cfg.eval_every == 0 or step >= state.max_steps):
            self.pending = self._evaluate(state, model)
            if self.cfg.patience and self.since_best >= self.cfg.patience:
                self.early_stop_step = step
                control.should_training_stop = True
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
            control.should_save = True  # a checkpoint at this step, so a retry resumes here
            control.should_training_stop = True

    @staticmethod
    def _values(logs: dict[str, Any]) -> dict[str, Any]:
        """Coach's figures of a Trainer log (and of a held-out check, when the log holds one)."""
        values: dict[str, Any] = {ours: logs[theirs] for theirs, ours in _REPORTED.items() if theirs in logs}
        if "reward_model_score" in values and "verifier_reward" in values:
            values["reward_gap"] = values["reward_model_score"] - values["verifier_reward"]
        if HELDOUT in logs:
            values[HELDOUT] = logs[HELDOUT]
        return values

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        values = self._values(logs or {})
        if self.pending is not None:
            values[HELDOUT], self.pending = self.pending, None
        if not values:
            return  # the Trainer's closing summary (runtime, mean loss): not a step of its own
        values["elapsed_s"] = time.monotonic() - self.started
        if self.on_progress is not None:
            self.on_progress(state.global_step, state.max_steps, values)


def train_grpo(
    model_dir: str | Path,
    train_rows: list[dict[str, Any]],
    heldout_rows: list[dict[str, Any]],
    cfg: GRPOSettings,
    *,
    reward_model_dir: str | Path | None = None,
    on_progress: OnProgress | None = None,
    should_stop: ShouldStop | None = None,
    on_line: OnLine | None = None,
) -> dict[str, Any]:
    """GRPO from model_dir on rows made by `problem_row`; resumes from the newest checkpoint in output_dir."""
    out = Path(cfg.output_dir)
    if (done := finished_metrics(out)) is not None:
        return done
    if not train_rows:
        raise ValueError("GRPO needs at least one training problem")
    out.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    rewards: list[Any] = [verifier_reward(on_line)]
    weights = [1.0]
    if reward_model_dir is not None:
        rewards.append(reward_model_reward(reward_model_dir, torch.device("cuda" if cuda else "cpu")))
        weights.append(cfg.reward_model_weight)
    args = GRPOConfig(
        output_dir=str(out),
        learning_rate=cfg.lr,
        lr_scheduler_type="constant",
        beta=cfg.beta,
        num_generations=cfg.num_generations,
        per_device_train_batch_size=cfg.problems_per_step * cfg.num_generations,
        gradient_accumulation_steps=1,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        max_steps=cfg.max_steps,
        logging_steps=1,
        save_strategy="steps",
        save_steps=cfg.checkpoint_every,
        save_total_limit=cfg.keep_checkpoints,
        reward_weights=weights,
        seed=cfg.seed,
        use_cpu=not cuda,
        bf16=cuda,
        gradient_checkpointing=cuda,  # saves memory on a large model; only costs time on a tiny one
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    watch = _Watch(
        cfg=cfg, tokenizer=tokenizer, heldout=heldout_rows, on_progress=on_progress, should_stop=should_stop
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=rewards,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        processing_class=tokenizer,
        callbacks=[watch],
    )
    checkpoint = latest_trainer_checkpoint(out)
    resumed_from = int(checkpoint.name.split("-")[1]) if checkpoint else 0
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    step = trainer.state.global_step
    if watch.stopped:
        return {
            "step": step,
            "total_steps": cfg.max_steps,
            "stopped": True,
            "resumed_from_step": resumed_from,
        }
    rates = watch.history
    result: dict[str, Any] = {
        "step": step,
        "total_steps": cfg.max_steps,
        "stopped": False,
        "resumed_from_step": resumed_from,
        "heldout_pass_rate_start": rates[0][1] if rates else None,
        HELDOUT: rates[-1][1] if rates else None,
        "best_heldout_pass_rate": max((r for _, r in rates), default=None),
        "heldout_problems": len(heldout_rows),
        "train_problems": len(train_rows),
        "early_stop_step": watch.early_stop_step,
        **_last_logged(trainer.state.log_history),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "final_dir": str(out / "final"),
    }
    tokenizer.padding_side = "left"
    save_final(out, model=trainer.model, tokenizer=tokenizer, metrics=result)
    return result


def save_final(output_dir: Path, *, model: Any, tokenizer: Any, metrics: dict[str, Any]) -> Path:
    """output_dir/final: a loadable model dir plus metrics.json, written atomically (tmp dir, rename)."""
    final, tmp = output_dir / "final", output_dir / ".tmp-final"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def _last_logged(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The last value of each reported training figure."""
    found: dict[str, Any] = {}
    for entry in history:
        for theirs, ours in _REPORTED.items():
            if theirs in entry and ours != "lr":
                found[ours] = entry[theirs]
    return found
