import random
from math import comb

import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaForSequenceClassification

from trainer_bridge.ml.reward import RMConfig, kwise_loss, ranked_pairs, score, train_reward_model


def parity_group(n: int, rng: random.Random) -> dict:
    """K=4 answers to "Is n even or odd?": right and full > right and terse > wrong (the wrong ones tie)."""
    right, wrong = ("even", "odd") if n % 2 == 0 else ("odd", "even")
    answers = [
        (f"{n} is {right}.", 0),
        (f"{right.capitalize()}.", 1),
        (f"{n} is {wrong}.", 2),
        (f"{wrong.capitalize()}.", 2),
    ]
    rng.shuffle(answers)
    return {
        "prompt": [{"role": "user", "content": f"Is {n} even or odd?"}],
        "candidates": [answer for answer, _ in answers],
        "tiers": [tier for _, tier in answers],
    }


def test_ties_give_no_pairs():
    assert ranked_pairs([0, 1, 1, 2]) == [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)]
    assert ranked_pairs([2, 0]) == [(1, 0)]
    assert ranked_pairs([1, 1, 1]) == []


def test_kwise_loss_is_the_mean_over_untied_pairs():
    rewards = torch.tensor([2.0, 1.0, 0.5, -1.0])
    tiers = torch.tensor([0, 1, 1, 2])
    loss, pairs, correct = kwise_loss(rewards, tiers)
    margins = torch.tensor([2.0 - 1.0, 2.0 - 0.5, 2.0 + 1.0, 1.0 + 1.0, 0.5 + 1.0])
    assert pairs == 5 and correct == 5
    assert loss.item() == pytest.approx(-F.logsigmoid(margins).mean().item())


def test_kwise_loss_counts_misordered_pairs_and_refuses_all_ties():
    _, pairs, correct = kwise_loss(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0, 1, 2]))
    assert (pairs, correct) == (3, 0)
    with pytest.raises(ValueError):
        kwise_loss(torch.tensor([0.0, 1.0]), torch.tensor([3, 3]))


@pytest.fixture(scope="module")
def parity_reward_model(tiny_model_dir, tmp_path_factory):
    """A reward model trained on the parity preference; split by prompt (val numbers unseen in training)."""
    rng = random.Random(0)
    numbers = list(range(100))
    rng.shuffle(numbers)
    train = [parity_group(n, rng) for _ in range(40) for n in numbers[:80]]
    val = [parity_group(n, rng) for n in numbers[80:]]
    val.append({"prompt": val[0]["prompt"], "candidates": ["Even.", "Odd."], "tiers": [0, 0]})  # all tied
    cfg = RMConfig(
        output_dir=tmp_path_factory.mktemp("rm"), lr=1e-3, groups_per_batch=8, eval_every=50, log_every=50
    )
    reports = []
    result = train_reward_model(
        tiny_model_dir, train, val, cfg, on_progress=lambda step, total, metrics: reports.append(metrics)
    )
    return result, reports, numbers[80:]


def test_reward_model_learns_a_prompt_dependent_preference(parity_reward_model):
    result, reports, _ = parity_reward_model
    evaluated = [m for m in reports if "val_pair_accuracy" in m]
    assert evaluated[0]["val_pair_accuracy"] < 0.9  # it starts out unable to tell
    assert result["val_pair_accuracy"] >= 0.9
    assert result["val_groups"] == 20  # the all-tied group taught nothing and was left out
    assert result["step"] == result["total_steps"] == 400


def test_score_prefers_the_right_answer_to_an_unseen_prompt(parity_reward_model):
    result, _, held_out = parity_reward_model
    for n in held_out:  # numbers no training prompt asked about
        prompt = [{"role": "user", "content": f"Is {n} even or odd?"}]
        right, wrong = ("even", "odd") if n % 2 == 0 else ("odd", "even")
        rewards = score(result["final_dir"], prompt, [f"{n} is {right}.", f"{n} is {wrong}."])
        assert rewards[0] > rewards[1]


def test_each_group_costs_k_forwards_not_two_per_pair(tiny_model_dir, tmp_path, monkeypatch):
    rows_per_forward = []
    forward = LlamaForSequenceClassification.forward

    def counting_forward(self, *args, **kwargs):
        rows_per_forward.append(kwargs["input_ids"].shape[0])
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(LlamaForSequenceClassification, "forward", counting_forward)
    k = 9
    group = {
        "prompt": [{"role": "user", "content": "Rank these."}],
        "candidates": [f"Answer {i}." for i in range(k)],
        "tiers": list(range(k)),
    }
    cfg = RMConfig(output_dir=tmp_path / "rm", max_steps=3, groups_per_batch=1, log_every=1, eval_every=100)
    result = train_reward_model(tiny_model_dir, [group], [], cfg)
    assert rows_per_forward == [k, k, k]  # one forward per step, all K answers of the ranking together
    assert result["train_sequence_forwards"] == 3 * k
    assert result["train_pairs"] == 3 * comb(k, 2)
    assert result["pairwise_sequence_forwards"] == 3 * 2 * comb(k, 2)  # 72 per ranking for K = 9


def test_stopped_run_resumes_at_the_saved_step(tiny_model_dir, tmp_path):
    rng = random.Random(1)
    groups = [parity_group(n, rng) for n in range(16)]
    cfg = RMConfig(
        output_dir=tmp_path / "rm", lr=1e-3, max_steps=6, groups_per_batch=4, log_every=1, eval_every=100
    )
    asked = []

    def stop_after_three_steps() -> bool:
        asked.append(1)
        return len(asked) >= 3

    assert train_reward_model(tiny_model_dir, groups, [], cfg, should_stop=stop_after_three_steps)["stopped"]
    steps = []
    result = train_reward_model(tiny_model_dir, groups, [], cfg, on_progress=lambda s, t, m: steps.append(s))
    assert result["resumed_from_step"] == 3
    assert steps == [1, 2, 3, 4, 5, 6]  # the checkpoint's steps reported again, then the new ones
    assert result["train_sequence_forwards"] == 6 * 4 * 4  # counted across the restart: steps × groups × K
