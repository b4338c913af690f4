"""The toy verifiable task GRPO is measured on: sums of small numbers, checked by the numeric verifier.

A model built from scratch learns the answer format from a short SFT warm-up (from a cold model every
reward is 0 and GRPO has nothing to learn from), then GRPO raises its held-out pass rate. The
problems are practice-set records (what `manage.py practice upload` reads), and their prompts are
made exactly as a GRPO job makes them (`curation.practice.problem_messages`), so this needs Django's
settings loaded, not a database.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from trainer_bridge.ml.config import SFTConfig


def sum_problems(*, digits: int, seed: int) -> list[dict[str, Any]]:
    """Every 'What is a + b?' with a and b of `digits` digits (0-9 for one digit), shuffled by the seed."""
    low, high = (0, 9) if digits == 1 else (10 ** (digits - 1), 10**digits - 1)
    pairs = [(a, b) for a in range(low, high + 1) for b in range(low, high + 1)]
    random.Random(seed).shuffle(pairs)
    return [
        {"problem": f"What is {a} + {b}?", "answer": str(a + b), "verifier": "numeric", "tolerance": 0}
        for a, b in pairs
    ]


def practice_rows(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GRPO rows of practice-set records, prompted as a GRPO job prompts them."""
    from curation.models import PracticeProblem
    from curation.practice import problem_messages
    from trainer_bridge.ml.grpo import problem_row

    rows = []
    for record in problems:
        options = {"tolerance": record.get("tolerance", 0), "relative": False}
        problem = PracticeProblem(
            problem=record["problem"], answer=record["answer"], verifier=record["verifier"], options=options
        )
        rows.append(problem_row(problem_messages(problem), problem.answer, problem.verifier, options))
    return rows


def sft_warm_up(
    model_dir: Path, problems: list[dict[str, Any]], out_dir: Path, *, steps: int, lr: float, seed: int
) -> Path:
    """SFT on the problems' right answers ('Answer: 57'); returns the warmed model's directory."""
    from trainer_bridge.ml.sft import train_sft

    rows = [
        {"messages": [*row["prompt"], {"role": "assistant", "content": f"Answer: {row['answer']}"}]}
        for row in practice_rows(problems)
    ]
    cfg = SFTConfig(
        output_dir=out_dir,
        lr=lr,
        max_steps=steps,
        batch_size=32,
        warmup_steps=min(10, steps // 5),
        eval_every=10**9,
        checkpoint_every=10**9,
        log_every=10**9,
        seed=seed,
    )
    return Path(train_sft(model_dir, rows, [], cfg)["final_dir"])
