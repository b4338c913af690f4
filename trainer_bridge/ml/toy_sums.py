"""The toy verifiable task GRPO is measured on: sums of small numbers, checked by the numeric verifier.

A model built from scratch learns the sums from an SFT warm-up (from a cold model every reward is 0
and GRPO has nothing to learn from). The warm-up's demonstrations are written the way a mixed team
writes them: some spell the sum out ("Answer: seven"), which the numeric verifier cannot read, the rest
give digits ("Answer: 7"), on every problem. The warm-up must be long enough to teach the sums
themselves (600 steps of 32 for the 64-wide model: its digit answers are then about 90 % right; after
200 steps only 10-20 % were, and GRPO had arithmetic to learn rather than a form to pick). Greedy
decoding then spells many held-out answers, so the pass rate starts low, while about a third of the
sampled answers are right digits, so most groups of samples hold both rewards; GRPO, rewarded by the
verifier, moves the policy to the answers the verifier can check (`bench/grpo.py` measures how far).

Each sum is asked in two phrasings, and the held-out split goes by problem text (as every practice
set's does), so a held-out problem is often a sum the model practised in its other phrasing.
The problems are practice-set records (what `manage.py practice upload` reads), and their prompts are
made exactly as a GRPO job makes them (`curation.practice.problem_messages`), so this needs Django's
settings loaded, not a database.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from trainer_bridge.ml.config import SFTConfig

COPIES = 5  # demonstrations of each problem in the warm-up
PHRASINGS = ("What is {a} + {b}?", "Add {a} and {b}.")
_ONES = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def spelled(n: int) -> str:
    """0 to 199 in words: 57 is 'fifty-seven', 112 'one hundred twelve'."""
    if n >= 100:
        return "one hundred" + (f" {spelled(n - 100)}" if n > 100 else "")
    if n < 10:
        return _ONES[n]
    if n < 20:
        return _TEENS[n - 10]
    return _TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else "")


def sum_problems(*, digits: int, seed: int) -> list[dict[str, Any]]:
    """Every sum of two numbers of `digits` digits (0-9 for one digit), in each phrasing, shuffled."""
    low, high = (0, 9) if digits == 1 else (10 ** (digits - 1), 10**digits - 1)
    problems = [
        {"problem": text.format(a=a, b=b), "answer": str(a + b), "verifier": "numeric", "tolerance": 0}
        for a in range(low, high + 1)
        for b in range(low, high + 1)
        for text in PHRASINGS
    ]
    random.Random(seed).shuffle(problems)
    return problems


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
    model_dir: Path,
    problems: list[dict[str, Any]],
    out_dir: Path,
    *,
    steps: int,
    lr: float,
    seed: int,
    spelled_share: float = 0.6,
) -> Path:
    """SFT on right answers, `spelled_share` of them spelled out; returns the warmed model's directory.

    Each problem gets COPIES demonstrations, round(COPIES * spelled_share) of them spelled (0.6: 3 of 5)."""
    from trainer_bridge.ml.sft import train_sft

    # Every problem is demonstrated both ways (COPIES rows, `spelled_share` of them spelled), so the
    # warmed model is unsure of the form on every problem rather than sure of one form per problem.
    spelled_rows = round(COPIES * spelled_share)
    rows = []
    for row in practice_rows(problems):
        total = int(row["answer"])
        for copy in range(COPIES):
            answer = spelled(total) if copy < spelled_rows else str(total)
            rows.append({"messages": [*row["prompt"], {"role": "assistant", "content": f"Answer: {answer}"}]})
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
