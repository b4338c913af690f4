import pytest

from trainer_bridge.ml.sft import IGNORE, SFTConfig, build_sft_example, train_sft

WORDS = "apple banana cherry dragon eagle falcon grape honey igloo jungle kiwi lemon mango night ocean pepper"
ROWS = [
    {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": f"What is code word number {i}?"},
            {"role": "assistant", "content": f"The code word is {word}."},
        ]
    }
    for i, word in enumerate((WORDS + " quartz river sun tiger").split())
]
TOOL_CHAT = [
    {"role": "system", "content": "Use the search tool."},
    {"role": "user", "content": "Who wrote Dune?"},
    {
        "role": "assistant",
        "content": "Let me look.",
        "tool_calls": [{"type": "function", "function": {"name": "search", "arguments": {"query": "Dune"}}}],
    },
    {"role": "tool", "content": "Dune is a 1965 novel by Frank Herbert."},
    {"role": "assistant", "content": "Frank Herbert wrote it."},
]


def labelled_spans(tokenizer, example) -> list[str]:
    """Decode each run of consecutive labelled tokens."""
    spans, run = [], []
    for token, label in zip(example["input_ids"], example["labels"], strict=True):
        if label != IGNORE:
            assert label == token
            run.append(token)
        elif run:
            spans.append(tokenizer.decode(run))
            run = []
    if run:
        spans.append(tokenizer.decode(run))
    return spans


def config(tmp_path, **overrides) -> SFTConfig:
    values = {
        "lr": 3e-3,
        "max_steps": 30,
        "batch_size": 8,
        "eval_every": 10,
        "checkpoint_every": 10,
        "log_every": 5,
    }
    return SFTConfig(output_dir=tmp_path / "sft", **{**values, **overrides})


def test_labels_are_exactly_the_assistant_turns(tiny_tokenizer):
    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello there."},
        {"role": "user", "content": "Name a fruit."},
        {"role": "assistant", "content": "A kiwi, 100%."},
    ]
    example = build_sft_example(tiny_tokenizer, chat)
    assert labelled_spans(tiny_tokenizer, example) == ["Hello there.<|im_end|>", "A kiwi, 100%.<|im_end|>"]
    unlabelled = [
        t for t, label in zip(example["input_ids"], example["labels"], strict=True) if label == IGNORE
    ]
    text = tiny_tokenizer.decode(unlabelled)
    assert "Be brief." in text and "Name a fruit." in text and "Hello" not in text


def test_assistant_tool_calls_are_labelled_and_tool_results_are_not(tiny_tokenizer):
    example = build_sft_example(tiny_tokenizer, TOOL_CHAT)
    call = '<tool_call>{"name": "search", "arguments": {"query": "Dune"}}</tool_call>'
    assert labelled_spans(tiny_tokenizer, example) == [
        f"Let me look.{call}<|im_end|>",
        "Frank Herbert wrote it.<|im_end|>",
    ]


def test_chat_without_an_assistant_turn_is_refused(tiny_tokenizer):
    with pytest.raises(ValueError):
        build_sft_example(tiny_tokenizer, [{"role": "user", "content": "Hi"}])


def test_loss_falls_on_a_small_set(tiny_model_dir, tmp_path):
    reports = []
    result = train_sft(
        tiny_model_dir,
        ROWS,
        ROWS[:5],
        config(tmp_path),
        on_progress=lambda s, t, m: reports.append((s, t, m)),
    )
    # a step reports its training figures, and again with its validation figures on an evaluation step
    assert sorted({step for step, _, _ in reports}) == [5, 10, 15, 20, 25, 30]
    assert all(total == 30 for _, total, _ in reports)
    first_val = next(m["val_loss"] for step, _, m in reports if "val_loss" in m)
    assert result["val_loss"] < 0.6 * first_val
    assert result["train_loss"] < 0.6 * reports[0][2]["train_loss"]
    assert (tmp_path / "sft" / "final" / "model.safetensors").is_file()
    assert (tmp_path / "sft" / "final" / "tokenizer.json").is_file()


def test_checkpoints_are_complete_and_only_the_newest_are_kept(tiny_model_dir, tmp_path):
    train_sft(tiny_model_dir, ROWS, [], config(tmp_path, max_steps=8, checkpoint_every=2, keep_checkpoints=2))
    names = sorted(p.name for p in (tmp_path / "sft").iterdir())
    assert names == ["checkpoint-6", "checkpoint-8", "final"]  # the last step is saved too
    assert {p.name for p in (tmp_path / "sft" / "checkpoint-6").iterdir()} >= {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "optimizer.pt",
        "scheduler.pt",
        "trainer_state.json",  # written last: a checkpoint without it is half-written and skipped
    }


def test_stopped_run_resumes_at_the_saved_step_and_ends_like_an_uninterrupted_one(tiny_model_dir, tmp_path):
    uninterrupted = train_sft(tiny_model_dir, ROWS, ROWS[:5], config(tmp_path / "a", max_steps=12))

    asked = []

    def stop_after_six_steps() -> bool:  # asked once after each step
        asked.append(1)
        return len(asked) >= 6

    every_step = config(tmp_path / "b", max_steps=12, log_every=1)
    stopped = train_sft(tiny_model_dir, ROWS, ROWS[:5], every_step, should_stop=stop_after_six_steps)
    assert stopped["stopped"] is True
    assert (tmp_path / "b" / "sft" / "checkpoint-6").is_dir()
    assert not (tmp_path / "b" / "sft" / "final").exists()

    steps = []
    resumed = train_sft(
        tiny_model_dir,
        ROWS,
        ROWS[:5],
        every_step,
        on_progress=lambda step, total, metrics: steps.append(step),
    )
    assert resumed["resumed_from_step"] == 6
    # what the checkpoint logged is reported again (a killed run may have saved steps it never reported),
    # then training goes on from step 7
    assert steps[:6] == [1, 2, 3, 4, 5, 6] and steps[6] == 7
    assert sorted(set(steps)) == list(range(1, 13))
    assert resumed["val_loss"] == pytest.approx(uninterrupted["val_loss"], rel=1e-4)


def test_a_finished_run_is_not_trained_again(tiny_model_dir, tmp_path):
    first = train_sft(tiny_model_dir, ROWS, [], config(tmp_path, max_steps=2))
    reports = []
    again = train_sft(
        tiny_model_dir, ROWS, [], config(tmp_path, max_steps=2), on_progress=lambda *a: reports.append(a)
    )
    assert again == first and reports == []
