import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from trainer_bridge.ml.config import DPOConfig
from trainer_bridge.ml.dpo import train_dpo


def parity_pair(n: int) -> dict:
    """ "Is n even or odd?": the right answer in a sentence chosen over a terse wrong one."""
    right, wrong = ("even", "odd") if n % 2 == 0 else ("odd", "even")
    return {
        "prompt": [{"role": "user", "content": f"Is {n} even or odd?"}],
        "chosen": [{"role": "assistant", "content": f"{n} is {right}."}],
        "rejected": [{"role": "assistant", "content": f"{wrong.capitalize()}."}],
    }


@torch.no_grad()
def answer_logp(model_dir, pair: dict, side: str) -> float:
    """Sum of the answer's token log-probabilities given the prompt, computed here, apart from TRL."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompt = tokenizer.apply_chat_template(pair["prompt"], tokenize=False, add_generation_prompt=True)
    whole = tokenizer.apply_chat_template(pair["prompt"] + pair[side], tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([tokenizer(whole, add_special_tokens=False)["input_ids"]])
    logps = torch.log_softmax(model(ids).logits[0, :-1], dim=-1)
    targets = ids[0, 1:]
    picked = logps[torch.arange(len(targets)), targets]
    return float(picked[len(prompt_ids) - 1 :].sum())


def margin(model_dir, pairs: list[dict]) -> float:
    """Mean log-probability of the chosen answer minus that of the rejected one."""
    gaps = [answer_logp(model_dir, p, "chosen") - answer_logp(model_dir, p, "rejected") for p in pairs]
    return sum(gaps) / len(gaps)


@pytest.fixture(scope="module")
def parity_pairs():
    numbers = list(range(60))
    random.Random(0).shuffle(numbers)
    return [parity_pair(n) for n in numbers[:48]], [parity_pair(n) for n in numbers[48:]]


@pytest.mark.parametrize("lora_r", [0, 8])
def test_dpo_lowers_its_loss_and_widens_the_chosen_answers_margin(
    tiny_model_dir, tmp_path, parity_pairs, lora_r
):
    torch.set_num_threads(1)
    train, val = parity_pairs
    cfg = DPOConfig(
        output_dir=tmp_path / "dpo",
        lr=5e-3 if lora_r else 1e-3,
        beta=0.1,
        batch_size=8,
        max_steps=24,
        warmup_steps=2,
        log_every=4,
        eval_every=12,
        checkpoint_every=100,
        lora_r=lora_r,
    )
    reports: list[dict] = []
    result = train_dpo(
        tiny_model_dir, train, val, cfg, on_progress=lambda step, total, metrics: reports.append(metrics)
    )
    losses = [r["train_loss"] for r in reports if "train_loss" in r]
    assert losses[-1] < losses[0]
    assert result["step"] == result["total_steps"] == 24
    assert result["reward_margin"] > 0 and "val_loss" in result
    before, after = margin(tiny_model_dir, val), margin(result["final_dir"], val)
    assert after > before + 0.5, (before, after)


def test_ipo_is_a_loss_variant_and_no_pair_is_refused(tiny_model_dir, tmp_path, parity_pairs):
    train, _ = parity_pairs
    cfg = DPOConfig(output_dir=tmp_path / "ipo", loss_type="ipo", max_steps=2, log_every=1, batch_size=4)
    result = train_dpo(tiny_model_dir, train[:8], [], cfg)
    assert result["step"] == 2 and result["config"]["loss_type"] == "ipo"
    with pytest.raises(ValueError, match="no preference pair"):
        train_dpo(tiny_model_dir, [], [], DPOConfig(output_dir=tmp_path / "none"))
