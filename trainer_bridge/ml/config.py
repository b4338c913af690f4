"""Training settings as plain dataclasses: importable without torch, so the web side checks a job's config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class SFTConfig:
    output_dir: Path
    lr: float = 1e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    epochs: int = 1
    max_steps: int | None = None  # when set, wins over epochs
    batch_size: int = 8
    max_len: int = 2048  # tokens per example; longer ones are cut at the end
    eval_every: int = 100
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    log_every: int = 10
    seed: int = 0
    # --- how it runs (every training job) ---
    processes: int = 1  # torchrun processes on this machine (GPUs, or CPU processes with gloo)
    gradient_accumulation_steps: int = (
        1  # micro-steps per optimizer step (the step's examples split over them)
    )
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory
    lora_r: int = 0  # 0: full fine-tune; >0: LoRA adapters of this rank (peft), registered as an adapter
    lora_alpha: int = 0  # 0: twice the rank
    qlora: bool = False  # 4-bit base + LoRA: needs a GPU and bitsandbytes
    bf16: bool = True  # on GPUs: bf16 autocast, and bf16 base weights under LoRA; ignored on the CPU
    fsdp: bool = False  # shard weights, gradients and optimizer state over the processes (FSDP)
    deepspeed: str = ""  # path of a DeepSpeed config (deploy/deepspeed/zero3.json); needs deepspeed


@dataclass
class RMConfig:
    output_dir: Path
    lr: float = 5e-5
    min_lr_ratio: float = 0.1
    warmup_steps: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    epochs: int = 1  # InstructGPT trains its reward model for a single epoch: more overfits
    max_steps: int | None = None  # when set, wins over epochs
    groups_per_batch: int = 4  # rankings per step; each brings its K answers
    max_len: int = 2048  # tokens per prompt+answer; longer ones keep their end, where the score is read
    eval_every: int = 100
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    log_every: int = 10
    seed: int = 0
    # --- how it runs (every training job) ---
    processes: int = 1  # torchrun processes on this machine (GPUs, or CPU processes with gloo)
    gradient_accumulation_steps: int = (
        1  # micro-steps per optimizer step (the step's examples split over them)
    )
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory
    lora_r: int = 0  # 0: full fine-tune; >0: LoRA adapters of this rank (peft), registered as an adapter
    lora_alpha: int = 0  # 0: twice the rank
    qlora: bool = False  # 4-bit base + LoRA: needs a GPU and bitsandbytes
    bf16: bool = True  # on GPUs: bf16 autocast, and bf16 base weights under LoRA; ignored on the CPU
    fsdp: bool = False  # shard weights, gradients and optimizer state over the processes (FSDP)
    deepspeed: str = ""  # path of a DeepSpeed config (deploy/deepspeed/zero3.json); needs deepspeed


# The loss variants of TRL's DPOTrainer a job may pick (`loss_type`); sigmoid is the DPO paper's.
DPO_LOSSES = (
    "sigmoid", "ipo", "hinge", "robust", "exo_pair", "nca_pair", "bco_pair", "sppo_hard", "apo_zero",
)  # fmt: skip


@dataclass
class DPOConfig:
    output_dir: Path
    loss_type: str = "sigmoid"
    beta: float = 0.1  # how far from the reference model the policy may move (IPO: its regularizer)
    lr: float = 5e-6
    warmup_steps: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    epochs: int = 1
    max_steps: int | None = None  # when set, wins over epochs
    batch_size: int = 8  # preference pairs per step
    max_len: int = 2048  # tokens of prompt + answer
    lora_r: int = 0  # 0: train every weight; above 0: a LoRA adapter of this rank, merged at the end
    lora_alpha: int = 16
    processes: int = 1  # torchrun processes on this machine (GPUs, or CPU processes with gloo)
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory
    bf16: bool = True  # on GPUs: bf16 autocast; ignored on the CPU
    eval_every: int = 100
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    log_every: int = 10
    seed: int = 0


@dataclass
class GRPOSettings:
    """GRPO on a practice set (TRL's GRPOTrainer); the verifiers are the rewards."""

    output_dir: Path
    lr: float = 1e-5
    beta: float = 0.04  # KL penalty to the reference model; above 0, so a reference is kept and KL logged
    num_generations: int = 8  # solutions sampled per problem: the group whose mean is the baseline
    problems_per_step: int = 4
    max_completion_length: int = 32  # tokens per sampled solution
    temperature: float = 1.0
    max_steps: int = 100
    eval_every: int = 10  # steps between held-out pass-rate checks (greedy, one answer per problem)
    patience: int = 0  # stop after this many held-out checks without a new best (0: never stop early)
    checkpoint_every: int = 20
    keep_checkpoints: int = 2
    reward_model_weight: float = 1.0  # the reward model's share beside the verifier's 1.0, when one is used
    seed: int = 0
    processes: int = 1  # torchrun processes on this machine
