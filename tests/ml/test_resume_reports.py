"""A resumed training run reports again what its checkpoint logged: the processes of a killed worker can
train and save a step an instant after the worker stopped listening, and that step keeps its point."""

from pathlib import Path

from transformers import TrainerControl, TrainerState, TrainingArguments

from trainer_bridge.ml.config import GRPOSettings
from trainer_bridge.ml.dpo import _Report
from trainer_bridge.ml.grpo import HELDOUT, _Watch


def resumed_state(log_history: list[dict]) -> TrainerState:
    return TrainerState(global_step=4, max_steps=10, log_history=log_history)


def test_a_resumed_grpo_run_reports_each_logged_step_once_with_its_held_out_check(tmp_path: Path):
    reports: list[tuple[int, int, dict]] = []
    watch = _Watch(
        cfg=GRPOSettings(output_dir=tmp_path),
        tokenizer=None,
        heldout=[{"prompt": "1+1", "answer": "2"}],
        on_progress=lambda step, total, values: reports.append((step, total, values)),
        should_stop=None,
    )
    state = resumed_state(
        [
            {"step": 0, HELDOUT: 0.25},
            {"step": 2, "reward": 0.5, "loss": 0.1, "learning_rate": 1e-5},
            {"step": 4, "reward": 0.75, "kl": 0.02},
            {"step": 4, HELDOUT: 0.5},
            {"step": 4, "train_runtime": 3.0},  # the closing summary of a finished run: not a step
        ]
    )
    watch.on_train_begin(TrainingArguments(output_dir=str(tmp_path)), state, TrainerControl(), model=None)
    assert reports == [
        (0, 10, {HELDOUT: 0.25}),
        (2, 10, {"mean_reward": 0.5, "loss": 0.1, "lr": 1e-5}),
        (4, 10, {"mean_reward": 0.75, "kl": 0.02, HELDOUT: 0.5}),
    ]
    assert watch.history == [(0, 0.25), (4, 0.5)]  # the checks it made before count for early stopping


def test_a_resumed_dpo_run_reports_each_logged_step_once(tmp_path: Path):
    reports: list[tuple[int, dict]] = []
    report = _Report(lambda step, total, values: reports.append((step, values)), None)
    state = resumed_state(
        [
            {"step": 2, "loss": 0.69, "rewards/margins": 0.01},
            {"step": 4, "loss": 0.6},
            {"step": 4, "eval_loss": 0.65},
        ]
    )
    report.on_train_begin(TrainingArguments(output_dir=str(tmp_path)), state, TrainerControl())
    assert reports == [
        (2, {"train_loss": 0.69, "reward_margin": 0.01, "step": 2, "total_steps": 10}),
        (4, {"train_loss": 0.6, "val_loss": 0.65, "step": 4, "total_steps": 10}),
    ]
