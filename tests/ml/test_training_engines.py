"""SFT on a stock-style chat template without generation markers, and 1 vs 2 torchrun processes.

The templates here are written for these tests in the style of stock ones (a header-per-turn template
and a template that rewrites earlier turns); none carries `{% generation %}` markers.
"""

import json
import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from registry.chat_templates import TemplateUnfit, template_problem
from tests.ml.test_reward import parity_group
from tests.ml.test_sft import ROWS
from trainer_bridge.ml.config import RMConfig, SFTConfig
from trainer_bridge.ml.launch import launch
from trainer_bridge.ml.reward import train_reward_model
from trainer_bridge.ml.sft import IGNORE, build_sft_example, collate, train_sft

# Header-per-turn, in the style of several stock templates: no generation markers, the end-of-turn
# marker follows each turn's content, a blank line after each header.
HEADER_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|turn|>{{ m['role'] }}\n\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|turn|>assistant\n\n{% endif %}"
)
# Renders an earlier assistant turn differently once a later turn exists (it keeps only the last
# answer in full): a prefix of the conversation is not rendered as a prefix.
REWRITING_TEMPLATE = (
    "{% for m in messages %}[{{ m['role'] }}] "
    "{% if m['role'] == 'assistant' and not loop.last %}(earlier answer)"
    "{% else %}{{ m['content'] }}{% endif %}\n"
    "{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"
)

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello there."},
    {"role": "user", "content": "Name a fruit."},
    {"role": "assistant", "content": "A kiwi, 100%."},
]


@pytest.fixture
def header_tokenizer(tiny_model_dir, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = HEADER_TEMPLATE
    tokenizer.save_pretrained(tmp_path / "header-tok")
    return tokenizer


def expected_labels(tokenizer, messages: list[dict]) -> tuple[list[int], list[int]]:
    """Computed another way: find each assistant content and its end marker in the rendered text in
    order, and label the tokens that start inside those stretches."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    stretches, cursor = [], 0
    for message in messages:
        if message["role"] == "assistant":
            piece = message["content"] + "<|end|>"
            start = text.index(piece, cursor)
            stretches.append((start, start + len(piece)))
            cursor = start + len(piece)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    labels = [
        token if any(a <= start < b for a, b in stretches) else IGNORE
        for token, (start, _) in zip(enc["input_ids"], enc["offset_mapping"], strict=True)
    ]
    return list(enc["input_ids"]), labels


def test_sft_on_a_stock_template_without_generation_markers_trains_on_the_assistant_tokens_only(
    header_tokenizer, tiny_model_dir, tmp_path
):
    example = build_sft_example(header_tokenizer, CHAT)
    ids, labels = expected_labels(header_tokenizer, CHAT)
    assert example == {"input_ids": ids, "labels": labels}
    labelled = header_tokenizer.decode([t for t in labels if t != IGNORE])
    assert labelled == "Hello there.<|end|>A kiwi, 100%.<|end|>"

    # The model dir with that template: the first step's loss is the loss on exactly those tokens.
    model_dir = tmp_path / "header-model"
    AutoModelForCausalLM.from_pretrained(tiny_model_dir).save_pretrained(model_dir)
    header_tokenizer.save_pretrained(model_dir)
    rows = ROWS[:8]
    reports = []
    cfg = SFTConfig(output_dir=tmp_path / "sft", max_steps=2, batch_size=8, log_every=1, eval_every=100)
    result = train_sft(model_dir, rows, [], cfg, on_progress=lambda s, t, m: reports.append((s, m)))
    assert result["skipped_examples"] == 0
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    batch = collate(
        [
            dict(zip(("input_ids", "labels"), expected_labels(header_tokenizer, r["messages"]), strict=True))
            for r in rows
        ],
        header_tokenizer.pad_token_id,
    )
    with torch.no_grad():
        independent = model(**batch).loss.item()
    assert reports[0][0] == 1 and reports[0][1]["train_loss"] == pytest.approx(independent, rel=1e-5)


def test_a_template_that_rewrites_earlier_turns_is_refused_by_name(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = REWRITING_TEMPLATE
    with pytest.raises(TemplateUnfit, match=f"chat template of {tiny_model_dir}"):
        build_sft_example(tokenizer, CHAT)

    def render(messages, generation_prompt):
        return (
            str(
                tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=generation_prompt
                )
            )
            if messages or generation_prompt
            else ""
        )

    assert "rewrites earlier turns" in template_problem(render, template="rewriting")
    tokenizer.chat_template = HEADER_TEMPLATE
    assert template_problem(render, template="header") is None


def launched_losses(
    tmp_path, kind: str, train: list, val: list, hparams: dict, name: str = "two"
) -> tuple[dict, dict]:
    """Per-step train loss and the final result of a 2-process torchrun (gloo) run."""
    (tmp_path / "train.json").write_text(json.dumps(train))
    (tmp_path / "val.json").write_text(json.dumps(val))
    steps: dict[int, float] = {}

    def on_event(event):
        if event["event"] == "progress" and "train_loss" in event["metrics"]:
            steps[event["step"]] = event["metrics"]["train_loss"]

    done = launch(
        entry="trainer_bridge.ml.train",
        config={
            "kind": kind,
            "model_dir": hparams.pop("model_dir"),
            "train": str(tmp_path / "train.json"),
            "val": str(tmp_path / "val.json"),
            "hparams": {**hparams, "output_dir": str(tmp_path / name), "processes": 2},
        },
        workdir=tmp_path / name / "launch",
        processes=2,
        on_event=on_event,
        env={"OMP_NUM_THREADS": "1"},
    )
    return steps, done.result


# Tolerance: the same examples per step, split over 2 ranks (gloo all-reduce of gradients, token counts
# summed over ranks): float32 sums in another order differ by about 1e-7 relative; 1e-5 leaves room.
TOLERANCE = 1e-5


def test_sft_on_two_processes_gives_the_loss_of_one(tiny_model_dir, tmp_path):
    hparams = {"lr": 3e-3, "max_steps": 3, "batch_size": 8, "log_every": 1, "eval_every": 3}
    one: dict[int, float] = {}
    single = train_sft(
        tiny_model_dir,
        ROWS,
        ROWS[:5],
        SFTConfig(output_dir=tmp_path / "one", **hparams),
        on_progress=lambda s, t, m: one.update({s: m["train_loss"]}),
    )
    two, double = launched_losses(
        tmp_path, "sft", ROWS, ROWS[:5], {**hparams, "model_dir": str(tiny_model_dir)}
    )
    assert double["processes"] == 2 and single["processes"] == 1
    assert sorted(two) == sorted(one) == [1, 2, 3]
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=TOLERANCE)
    assert double["val_loss"] == pytest.approx(single["val_loss"], rel=TOLERANCE)

    # FSDP (full shard over the 2 gloo ranks) trains the same steps and saves a whole, loadable model
    sharded, result = launched_losses(
        tmp_path, "sft", ROWS, ROWS[:5], {**hparams, "model_dir": str(tiny_model_dir), "fsdp": True}, "fsdp"
    )
    for step in one:
        assert sharded[step] == pytest.approx(one[step], rel=TOLERANCE)
    assert result["val_loss"] == pytest.approx(single["val_loss"], rel=TOLERANCE)
    reloaded = AutoModelForCausalLM.from_pretrained(result["final_dir"])
    assert sum(p.numel() for p in reloaded.parameters()) == sum(
        p.numel() for p in AutoModelForCausalLM.from_pretrained(tiny_model_dir).parameters()
    )


def test_the_kwise_reward_model_on_two_processes_gives_the_loss_of_one(tiny_model_dir, tmp_path):
    rng = random.Random(0)
    train = [parity_group(n, rng) for n in range(24)]
    val = [parity_group(n, rng) for n in range(80, 85)]  # 5 groups: the last batch is uneven over 2 ranks
    hparams = {"lr": 1e-3, "max_steps": 3, "groups_per_batch": 4, "log_every": 1, "eval_every": 3}
    one: dict[int, float] = {}
    single = train_reward_model(
        tiny_model_dir,
        train,
        val,
        RMConfig(output_dir=tmp_path / "one", **hparams),
        on_progress=lambda s, t, m: one.update({s: m["train_loss"]}),
    )
    two, double = launched_losses(tmp_path, "rm", train, val, {**hparams, "model_dir": str(tiny_model_dir)})
    assert sorted(two) == sorted(one) == [1, 2, 3]
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=TOLERANCE)
    assert double["val_loss"] == pytest.approx(single["val_loss"], rel=TOLERANCE)
    assert double["val_pair_accuracy"] == single["val_pair_accuracy"]
    assert double["train_sequence_forwards"] == single["train_sequence_forwards"] == 3 * 4 * 4
