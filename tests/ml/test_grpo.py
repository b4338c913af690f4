"""GRPO raises an SFT-warmed tiny model's held-out pass rate on the toy sums (trainer_bridge.ml.toy_sums)."""

from curation.practice import problem_split
from trainer_bridge.ml.config import GRPOSettings
from trainer_bridge.ml.grpo import train_grpo
from trainer_bridge.ml.toy_sums import practice_rows, sft_warm_up, sum_problems


def test_grpo_raises_the_held_out_pass_rate_of_an_sft_warmed_tiny_model(tiny_model_dir, tmp_path):
    problems = sum_problems(digits=1, seed=0)
    split = [problem_split(p["problem"], seed=0, validation_fraction=0.2) for p in problems]
    train = [p for p, s in zip(problems, split, strict=True) if s == "train"]
    held_out = [p for p, s in zip(problems, split, strict=True) if s == "validation"]
    warm = sft_warm_up(tiny_model_dir, train, tmp_path / "sft", steps=200, lr=5e-3, seed=0)
    seen: list[tuple[int, dict]] = []
    cfg = GRPOSettings(
        output_dir=tmp_path / "grpo",
        lr=1e-3,
        beta=0.02,
        num_generations=8,
        problems_per_step=8,
        max_completion_length=8,
        max_steps=40,
        eval_every=10,
        checkpoint_every=1000,
        seed=0,
    )

    result = train_grpo(
        warm,
        practice_rows(train),
        practice_rows(held_out),
        cfg,
        on_progress=lambda step, total, values: seen.append((step, values)),
    )

    before, after = result["heldout_pass_rate_start"], result["heldout_pass_rate"]
    assert after >= before + 0.15, (before, after)
    assert [step for step, values in seen if "heldout_pass_rate" in values] == [0, 10, 20, 30, 40]
    assert all(values["kl"] >= 0 and values["response_length"] > 0 for step, values in seen if step > 0)
