"""Reward model on K=9 rankings: Coach's K-wise loss against TRL's RewardTrainer on the pairwise export.

Both train one epoch from the same tiny model (built from scratch) on the same synthetic rankings: nine
right answers to "What is a + b?" padded with 0..8 filler words, fewer is better, so each ranking is
strict (36 pairs).
Coach reads each ranking as one batch element (9 forwards); TRL reads the export's chosen/rejected
pairs (2 forwards per pair, 72 per ranking). Both are scored on the same validation rankings with the
same pairwise accuracy. Prints one JSON line last.

    .venv/bin/python bench/rm_kwise.py [--groups 64] [--repeats 3]
"""

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo, not bench/ (its queue.py)

import datasets  # noqa: E402
import torch  # noqa: E402
import trl  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

from trainer_bridge.ml.reward import RMConfig, _groups, train_reward_model, validation_metrics  # noqa: E402
from trainer_bridge.ml.tiny import make_tiny_model  # noqa: E402

K = 9
LR = 1e-3
WARMUP = 0.1  # share of the epoch spent warming up, for both
FILLERS = ("um", "well", "so", "like", "basically", "you know")


def filler_ranking(rng: random.Random) -> dict:
    """K right answers to "What is a + b?"; the fewer filler words the better (tier = filler count)."""
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    answers = []
    for fillers in range(K):
        words = f"{a} plus {b} is {a + b}.".split()
        for _ in range(fillers):
            words.insert(rng.randrange(len(words) + 1), rng.choice(FILLERS))
        answers.append((" ".join(words), fillers))
    rng.shuffle(answers)
    return {
        "prompt": [{"role": "user", "content": f"What is {a} + {b}?"}],
        "candidates": [text for text, _ in answers],
        "tiers": [tier for _, tier in answers],
    }


def pairwise_export(groups: list[dict]) -> list[dict]:
    """The pairwise export's records (TRL conversational format): every untied pair of every ranking."""
    rows = []
    for g in groups:
        for i, j in combinations(range(len(g["candidates"])), 2):
            if g["tiers"][i] == g["tiers"][j]:
                continue
            better, worse = (i, j) if g["tiers"][i] < g["tiers"][j] else (j, i)
            rows.append(
                {
                    "prompt": g["prompt"],
                    "chosen": [{"role": "assistant", "content": g["candidates"][better]}],
                    "rejected": [{"role": "assistant", "content": g["candidates"][worse]}],
                }
            )
    return rows


def run_coach(model_dir: Path, train: list[dict], out: Path, batch: int, lr: float) -> dict:
    steps = math.ceil(len(train) / batch)
    cfg = RMConfig(
        output_dir=out, lr=lr, warmup_steps=round(WARMUP * steps), groups_per_batch=batch, epochs=1,
        eval_every=10**9, log_every=10**9,
    )  # fmt: skip
    started = time.perf_counter()
    result = train_reward_model(model_dir, train, [], cfg)
    seconds = time.perf_counter() - started
    forwards = result["train_sequence_forwards"]
    return {"seconds": seconds, "forwards": forwards, "model_dir": result["final_dir"]}


def run_trl(model_dir: Path, train: list[dict], out: Path, batch: int) -> dict:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    dataset = datasets.Dataset.from_list(pairwise_export(train))
    args = trl.RewardConfig(
        output_dir=str(out), num_train_epochs=1, per_device_train_batch_size=batch, learning_rate=LR,
        lr_scheduler_type="cosine", warmup_steps=WARMUP, logging_steps=10**6, save_strategy="no",
        report_to=[],
        use_cpu=True, dataloader_num_workers=0, seed=0, max_length=512, disable_tqdm=True,
        # as Coach trains on the CPU: float32, no activation checkpointing (TRL's defaults turn both on)
        bf16=False, gradient_checkpointing=False,
    )  # fmt: skip
    trainer = trl.RewardTrainer(model=model, processing_class=tokenizer, train_dataset=dataset, args=args)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "forwards": 2 * len(dataset), "model": trainer.model, "tokenizer": tokenizer}


def pair_accuracy(model, tokenizer, val: list[dict]) -> float:
    groups, _ = _groups(tokenizer, val, 512)
    return validation_metrics(model.float().eval(), groups, tokenizer.pad_token_id, 8, torch.device("cpu"))[
        "val_pair_accuracy"
    ]


def coach_accuracy(final_dir: str, val: list[dict]) -> float:
    from trainer_bridge.ml.reward import load_reward_model

    model, tokenizer = load_reward_model(final_dir, torch.device("cpu"))
    return pair_accuracy(model, tokenizer, val)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=192, help="training rankings")
    parser.add_argument("--val-groups", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--coach-batch", type=int, default=1, help="rankings per Coach step (TRL: 18 pairs)")
    parser.add_argument(
        "--coach-lr",
        type=float,
        default=3 * LR,
        help=f"Coach's learning rate (TRL's is {LR}); one K-wise step averages 8x the pairs of a TRL step",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(0)
    train = [filler_ranking(rng) for _ in range(args.groups)]
    val = [filler_ranking(rng) for _ in range(args.val_groups)]
    # By default the same sequences per optimizer step: 4 rankings × 9 answers = 36 = 18 pairs × 2.
    coach_batch, trl_batch = args.coach_batch, 18
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = make_tiny_model(Path(tmp) / "base", seed=0)
        coach_runs, trl_runs = [], []
        for repeat in range(args.repeats):
            coach = run_coach(model_dir, train, Path(tmp) / f"coach-{repeat}", coach_batch, args.coach_lr)
            coach["accuracy"] = coach_accuracy(coach.pop("model_dir"), val)
            coach_runs.append(coach)
            pairs = run_trl(model_dir, train, Path(tmp) / f"trl-{repeat}", trl_batch)
            pairs["accuracy"] = pair_accuracy(pairs.pop("model"), pairs.pop("tokenizer"), val)
            trl_runs.append(pairs)
            print(
                f"run {repeat + 1}: coach {coach['seconds']:.2f} s, {coach['forwards']} forwards, "
                f"val acc {coach['accuracy']:.3f} | trl {pairs['seconds']:.2f} s, "
                f"{pairs['forwards']} forwards, val acc {pairs['accuracy']:.3f}",
                flush=True,
            )

    def med(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    def spread(runs: list[dict], key: str) -> list[float]:
        return [round(min(r[key] for r in runs), 3), round(max(r[key] for r in runs), 3)]

    paired = [t["seconds"] / c["seconds"] for c, t in zip(coach_runs, trl_runs, strict=True)]
    summary = {
        "k": K,
        "train_rankings": args.groups,
        "val_rankings": args.val_groups,
        "pairs_per_ranking": K * (K - 1) // 2,
        "coach_forwards": coach_runs[0]["forwards"],
        "trl_forwards": trl_runs[0]["forwards"],
        "coach_wall_s": round(med(coach_runs, "seconds"), 3),
        "coach_wall_s_min_max": spread(coach_runs, "seconds"),
        "trl_wall_s": round(med(trl_runs, "seconds"), 3),
        "trl_wall_s_min_max": spread(trl_runs, "seconds"),
        "coach_val_pair_accuracy": round(med(coach_runs, "accuracy"), 4),
        "trl_val_pair_accuracy": round(med(trl_runs, "accuracy"), 4),
        "speedup_vs_trl": round(med(trl_runs, "seconds") / med(coach_runs, "seconds"), 2),
        # Each repeat runs both back to back; on a shared machine their ratio drifts less than either.
        "speedup_vs_trl_paired_median": round(statistics.median(paired), 2),
        "coach_lr": args.coach_lr,
        "coach_rankings_per_step": coach_batch,
        "trl_pairs_per_step": trl_batch,
        "trl_lr": LR,
        "repeats": args.repeats,
        "threads": args.threads,
        "device": "cpu",
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
