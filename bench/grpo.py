"""GRPO on the toy verifiable task: an SFT warm-up, then GRPO with the numeric verifier as the reward.

Per seed: a tiny chat model built from scratch, an SFT warm-up on the train split of the sums (3 of 5
demonstrations spell the sum out, which the numeric verifier cannot read: trainer_bridge.ml.toy_sums),
then GRPO through the same code a GRPO job runs (trainer_bridge.ml.grpo, TRL's GRPOTrainer). Held-out
pass@1 (one greedy answer per held-out problem, checked by the verifier) before and after GRPO; the
peer is the SFT model itself. `minutes` is the median per seed, warm-up and GRPO together. Prints one
JSON line last.

    .venv/bin/python bench/grpo.py [--seeds 3] [--digits 1] [--sft-steps 600] [--grpo-steps 30]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo, not bench/ (its queue.py)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()  # the prompts are made as a GRPO job makes them (curation.practice); no database is used

import torch  # noqa: E402

from curation.practice import problem_split  # noqa: E402
from trainer_bridge.ml.config import GRPOSettings  # noqa: E402
from trainer_bridge.ml.grpo import train_grpo  # noqa: E402
from trainer_bridge.ml.tiny import make_tiny_model  # noqa: E402
from trainer_bridge.ml.toy_sums import practice_rows, sft_warm_up, sum_problems  # noqa: E402


def one_seed(seed: int, args: argparse.Namespace, root: Path) -> dict[str, float]:
    problems = sum_problems(digits=args.digits, seed=seed)
    # the held-out split of a practice set uploaded with this seed
    split = [problem_split(p["problem"], seed=seed, validation_fraction=args.held_out) for p in problems]
    train = [p for p, s in zip(problems, split, strict=True) if s == "train"]
    held_out = [p for p, s in zip(problems, split, strict=True) if s == "validation"]
    started = time.monotonic()
    base = make_tiny_model(root / f"base-{seed}", seed=seed, hidden_size=args.hidden, warmup_steps=20)
    warm = sft_warm_up(
        base,
        train,
        root / f"sft-{seed}",
        steps=args.sft_steps,
        lr=args.sft_lr,
        seed=seed,
        spelled_share=args.spelled_share,
    )
    warmed = time.monotonic()
    cfg = GRPOSettings(
        output_dir=root / f"grpo-{seed}",
        lr=args.lr,
        beta=args.beta,
        num_generations=args.num_generations,
        problems_per_step=args.problems_per_step,
        max_completion_length=8,
        max_steps=args.grpo_steps,
        eval_every=args.eval_every,
        patience=0,
        checkpoint_every=10**6,
        seed=seed,
    )
    result = train_grpo(warm, practice_rows(train), practice_rows(held_out), cfg)
    before, after = float(result["heldout_pass_rate_start"]), float(result["heldout_pass_rate"])
    figures = {
        "seed": seed,
        "train_problems": len(train),
        "held_out_problems": len(held_out),
        "pass_rate_before": before,
        "pass_rate_after": after,
        "pass_rate_gain": after - before,
        "pass_rate_gap_closed": (after - before) / (1 - before) if before < 1 else 0.0,
        "sft_minutes": (warmed - started) / 60,
        "grpo_minutes": (time.monotonic() - warmed) / 60,
        "minutes": (time.monotonic() - started) / 60,
        "final_kl": float(result.get("kl") or 0.0),
    }
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--digits", type=int, default=1, help="1: sums of 0-9; 2: sums of 10-99")
    parser.add_argument("--held-out", type=float, default=0.2, help="the practice set's validation fraction")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--sft-steps", type=int, default=600)
    parser.add_argument("--sft-lr", type=float, default=5e-3)
    parser.add_argument("--spelled-share", type=float, default=0.6, help="warm-up answers spelled out")
    parser.add_argument("--grpo-steps", type=int, default=30)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--beta", type=float, default=0.02)
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--problems-per-step", type=int, default=4)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_seed(seed, args, Path(tmp)) for seed in range(args.seeds)]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    def span(key: str) -> list[float]:
        return [round(min(r[key] for r in runs), 4), round(max(r[key] for r in runs), 4)]

    for key in ("pass_rate_before", "pass_rate_after", "pass_rate_gain", "pass_rate_gap_closed", "minutes"):
        print(f"{key}: median {med(key):.3f} (min-max {span(key)})")
    summary = {
        "pass_rate_before": round(med("pass_rate_before"), 4),
        "pass_rate_after": round(med("pass_rate_after"), 4),
        "pass_rate_gain": round(med("pass_rate_gain"), 4),
        "pass_rate_gap_closed": round(med("pass_rate_gap_closed"), 4),
        "minutes": round(med("minutes"), 3),
        "minutes_all_seeds": round(sum(r["minutes"] for r in runs), 3),
        "gain_every_seed": all(r["pass_rate_gain"] > 0 for r in runs),
        "gap_closed_min_max": span("pass_rate_gap_closed"),
        "seeds": args.seeds,
        "digits": args.digits,
        "held_out_problems": runs[0]["held_out_problems"],
        "cores": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
