"""Training throughput and peak memory: SFT and the K-wise reward model, 1 vs 2 processes, full vs LoRA.

Every run goes through Coach's launcher (trainer_bridge.ml.launch, torchrun for 2 processes) and its
training entry, as a training job does. The model is built from a config (no download): the tiny
chat model's tokenizer with the width and depth asked for. Tokens/s counts every token of the step's
examples (SFT: prompt and answer; RM: each candidate with its prompt) over the training time reported
by rank 0 (start-up excluded); peak memory is rank 0's (GPU: memory allocated; CPU: peak RSS).
On a GPU machine the same command runs with bf16 (autocast; bf16 base weights under LoRA) and nccl:

    .venv/bin/python bench/train.py [--hidden 256 --layers 4] [--steps 20] [--repeats 3]
    .venv/bin/python bench/train.py --hidden 1536 --layers 24 --heads 12 --kv-heads 4 --steps 30  # ~0.6B, GPU

Prints one JSON line last: sft_tokens_per_s, rm_tokens_per_s, peak memory per configuration and the
ratios 2 processes / 1 process and LoRA / full.
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo, not bench/ (its queue.py)

from trainer_bridge.ml.launch import launch  # noqa: E402


def sft_rows(n: int, rng: random.Random) -> list[dict]:
    words = "apple river stone cloud maple ember violet copper harbor meadow lantern orbit".split()
    rows = []
    for i in range(n):
        topic = " ".join(rng.choices(words, k=6))
        answer = " ".join(rng.choices(words, k=40))
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"Write a note {i} about {topic}."},
                    {"role": "assistant", "content": answer},
                ]
            }
        )
    return rows


def rm_groups(n: int, rng: random.Random, k: int = 4) -> list[dict]:
    words = "apple river stone cloud maple ember violet copper harbor meadow lantern orbit".split()
    groups = []
    for i in range(n):
        answers = [" ".join(rng.choices(words, k=20 + 4 * j)) for j in range(k)]
        groups.append(
            {
                "prompt": [
                    {"role": "user", "content": f"Question {i}: {' '.join(rng.choices(words, k=6))}?"}
                ],
                "candidates": answers,
                "tiers": list(range(k)),
            }
        )
    return groups


def run(
    kind: str,
    model_dir: Path,
    data: list[dict],
    *,
    processes: int,
    lora: int,
    steps: int,
    batch: int,
    work: Path,
) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    (work / "train.json").write_text(json.dumps(data))
    (work / "val.json").write_text("[]")
    hparams = {
        "output_dir": str(work / "out"),
        "max_steps": steps,
        "lr": 1e-4,
        "warmup_steps": 2,
        "log_every": steps,
        "eval_every": 10**6,
        "checkpoint_every": 10**6,
        "processes": processes,
        "lora_r": lora,
        ("batch_size" if kind == "sft" else "groups_per_batch"): batch,
    }
    done = launch(
        entry="trainer_bridge.ml.train",
        config={
            "kind": kind,
            "model_dir": str(model_dir),
            "train": str(work / "train.json"),
            "val": str(work / "val.json"),
            "hparams": hparams,
        },  # fmt: skip
        workdir=work / "launch",
        processes=processes,
    )
    r = done.result
    return {
        "tokens_per_s": r["train_tokens"] / r["train_seconds"],
        "peak_mb": r["peak_memory_mb"],
        "wall_s": done.seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8, help="examples (SFT) or rankings (RM) per step")
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from trainer_bridge.ml.tiny import make_tiny_model

    rng = random.Random(0)
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = make_tiny_model(
            Path(tmp) / "model",
            hidden_size=args.hidden,
            num_layers=args.layers,
            num_heads=args.heads,
            num_kv_heads=args.kv_heads,
            warmup_steps=0,
        )
        data = {"sft": sft_rows(args.steps * args.batch, rng), "rm": rm_groups(args.steps * args.batch, rng)}
        for kind in ("sft", "rm"):
            for processes in (1, 2):
                for lora in (0, args.lora_r):
                    name = f"{kind}_{processes}p_{'lora' if lora else 'full'}"
                    runs = [
                        run(
                            kind,
                            model_dir,
                            data[kind],
                            processes=processes,
                            lora=lora,
                            steps=args.steps,
                            batch=args.batch,
                            work=Path(tmp) / f"{name}-{i}",
                        )  # fmt: skip
                        for i in range(args.repeats)
                    ]
                    speeds = [r["tokens_per_s"] for r in runs]
                    peaks = [r["peak_mb"] for r in runs]
                    figures[name] = {
                        "tokens_per_s": statistics.median(speeds),
                        "tokens_per_s_min_max": [min(speeds), max(speeds)],
                        "peak_mb": statistics.median(peaks),
                        "wall_s_median": statistics.median(r["wall_s"] for r in runs),
                    }
                    print(
                        f"{name:16s} {figures[name]['tokens_per_s']:10.0f} tokens/s "
                        f"(min {min(speeds):.0f}, max {max(speeds):.0f})  "
                        f"peak {figures[name]['peak_mb']:.0f} MB (rank 0)  "
                        f"wall {figures[name]['wall_s_median']:.1f} s",
                        flush=True,
                    )

    def ratio(a: str, b: str, key: str) -> float:
        return figures[a][key] / figures[b][key]

    summary = {
        "model": {
            "hidden": args.hidden,
            "layers": args.layers,
            "heads": args.heads,
            "kv_heads": args.kv_heads,
        },
        "steps": args.steps,
        "batch": args.batch,
        "repeats": args.repeats,
        "sft_tokens_per_s": figures["sft_1p_full"]["tokens_per_s"],
        "rm_tokens_per_s": figures["rm_1p_full"]["tokens_per_s"],
        "sft_2p_vs_1p": ratio("sft_2p_full", "sft_1p_full", "tokens_per_s"),
        "rm_2p_vs_1p": ratio("rm_2p_full", "rm_1p_full", "tokens_per_s"),
        "sft_lora_vs_full_speed": ratio("sft_1p_lora", "sft_1p_full", "tokens_per_s"),
        "sft_lora_vs_full_peak_memory": ratio("sft_1p_lora", "sft_1p_full", "peak_mb"),
        "rm_lora_vs_full_peak_memory": ratio("rm_1p_lora", "rm_1p_full", "peak_mb"),
        "runs": figures,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
