"""Candidate generation speed for K=9: Coach's path (one prefill per prompt, its KV cache repeated K
times) against plain `model.generate(num_return_sequences=K)` (the prompt copied K times, K prefills).

A small Llama-style model with random weights is built from scratch (no download), so every answer runs
to max_new_tokens and both paths write the same number of tokens. Prompts carry a system message, as
real ranking prompts do, so prefill is a fair share of the work. Each run includes loading the model.
Prints candidates/s and tokens/s (answers re-tokenized) per run, then one JSON line with the medians.

    .venv/bin/python bench/generate.py [--prompts 8] [--max-new-tokens 32] [--repeats 5]
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo, not bench/ (its queue.py)

import torch  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

from trainer_bridge.ml.generate import generate_candidates, generate_candidates_naive  # noqa: E402
from trainer_bridge.ml.tiny import make_tiny_model  # noqa: E402

K = 9
SYSTEM = (
    "You are a helpful assistant for a customer support team. Answer briefly and politely, say when you "
    "do not know, never invent order numbers or prices, and point to the help centre for account issues. "
    "Keep answers under one hundred words and use plain language a customer understands."
)
QUESTIONS = [
    "How do I reset my password?",
    "Where is my order?",
    "Can I change the delivery address after paying?",
    "What is your refund policy for opened items?",
    "Do you ship to Norway?",
    "Why was my card declined?",
    "How do I cancel my subscription?",
    "Can I buy a gift card for a friend?",
]


def prompts(n: int) -> list[list[dict]]:
    rng = random.Random(0)
    return [
        [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"{rng.choice(QUESTIONS)} (ticket {i})"},
        ]
        for i in range(n)
    ]


def timed(generate, model_dir: Path, chats: list[list[dict]], tokenizer, args) -> dict:
    started = time.perf_counter()
    out = generate(
        model_dir, chats, k=K, max_new_tokens=args.max_new_tokens, temperature=1.0, top_p=1.0, seed=0,
        batch_size=args.batch_size,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    candidates = sum(len(c) for c in out)
    tokens = sum(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for c in out for text in c)
    return {"seconds": seconds, "candidates": candidates, "tokens": tokens}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4, help="prompts per batch (x K rows)")
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    chats = prompts(args.prompts)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = make_tiny_model(
            Path(tmp) / "model", seed=0, warmup_steps=0, hidden_size=args.hidden_size, num_layers=args.layers,
            num_heads=8, num_kv_heads=4,
        )  # fmt: skip
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        prompt_tokens = statistics.mean(
            len(tokenizer.apply_chat_template(c, add_generation_prompt=True, return_dict=True)["input_ids"])
            for c in chats
        )
        runs: dict[str, list[dict]] = {"coach": [], "generate": []}
        timed(generate_candidates, model_dir, chats[:1], tokenizer, args)  # warm caches and kernels
        for repeat in range(args.repeats):
            for name, generate in (("coach", generate_candidates), ("generate", generate_candidates_naive)):
                result = timed(generate, model_dir, chats, tokenizer, args)
                runs[name].append(result)
                print(
                    f"run {repeat + 1} {name}: {result['seconds']:.2f} s, "
                    f"{result['candidates'] / result['seconds']:.1f} candidates/s, "
                    f"{result['tokens'] / result['seconds']:.0f} tokens/s",
                    flush=True,
                )

    def rate(name: str, key: str) -> float:
        return statistics.median(r[key] / r["seconds"] for r in runs[name])

    def spread(name: str, key: str) -> list[float]:
        values = [r[key] / r["seconds"] for r in runs[name]]
        return [round(min(values), 1), round(max(values), 1)]

    paired = [g["seconds"] / c["seconds"] for c, g in zip(runs["coach"], runs["generate"], strict=True)]
    summary = {
        "k": K,
        "prompts": args.prompts,
        "prompt_tokens_mean": round(prompt_tokens, 1),
        "max_new_tokens": args.max_new_tokens,
        "model": f"llama hidden {args.hidden_size}, {args.layers} layers (random weights)",
        "coach_candidates_per_s": round(rate("coach", "candidates"), 2),
        "coach_candidates_per_s_min_max": spread("coach", "candidates"),
        "coach_tokens_per_s": round(rate("coach", "tokens"), 1),
        "generate_candidates_per_s": round(rate("generate", "candidates"), 2),
        "generate_candidates_per_s_min_max": spread("generate", "candidates"),
        "generate_tokens_per_s": round(rate("generate", "tokens"), 1),
        "speedup_vs_generate": round(rate("coach", "candidates") / rate("generate", "candidates"), 2),
        # Each repeat runs both paths back to back; on a shared machine their ratio drifts less than either.
        "speedup_vs_generate_paired_median": round(statistics.median(paired), 2),
        "repeats": args.repeats,
        "threads": args.threads,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
