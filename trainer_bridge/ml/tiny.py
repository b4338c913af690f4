"""A tiny Llama-style chat model and tokenizer built from scratch, for tests and the demo (no downloads)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

BOS, EOS, PAD, TURN_START = "<|begin_of_text|>", "<|im_end|>", "<|pad|>", "<|im_start|>"
# Plain added tokens (not special) so decoding with skip_special_tokens keeps a generated tool call readable.
TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"
VOCAB_SIZE = 768
# The shape served through vLLM in tests and the demo: vLLM's CPU attention backend refuses the default
# shape's head size of 16 (64 wide / 4 heads) and takes 64.
SERVED_SHAPE: dict[str, int] = {"hidden_size": 128, "num_heads": 2, "num_kv_heads": 1}

# ChatML-style turns. Everything an assistant turn produces (content, tool calls, the end-of-turn token)
# sits inside {% generation %} so apply_chat_template(return_assistant_tokens_mask=True) marks exactly it.
# The header newline stays outside: the tokenizer never merges across it (see the pre-tokenizer).
CHAT_TEMPLATE = r"""
{{- bos_token -}}
{%- if messages and messages[0]['role'] == 'system' -%}
    {%- set system = messages[0]['content'] -%}{%- set turns = messages[1:] -%}
{%- else -%}
    {%- set system = '' -%}{%- set turns = messages -%}
{%- endif -%}
{%- if system or tools -%}
    {{- '<|im_start|>system\n' + system -}}
    {%- if tools -%}
        {{- '\n\n# Tools\nCall a tool with <tool_call>{"name": ..., "arguments": {...}}</tool_call>.\n' -}}
        {%- for tool in tools -%}{{- (tool | tojson) + '\n' -}}{%- endfor -%}
    {%- endif -%}
    {{- '<|im_end|>\n' -}}
{%- endif -%}
{%- for message in turns -%}
    {%- if message['role'] == 'assistant' -%}
        {{- '<|im_start|>assistant\n' -}}
        {%- generation -%}
            {{- message['content'] if message['content'] is string else '' -}}
            {%- for call in message.get('tool_calls', []) -%}
                {%- set fn = call['function'] if call['function'] is defined else call -%}
                {{- '<tool_call>' + ({'name': fn['name'], 'arguments': fn['arguments']} | tojson) -}}
                {{- '</tool_call>' -}}
            {%- endfor -%}
            {{- '<|im_end|>' -}}
        {%- endgeneration -%}
        {{- '\n' -}}
    {%- else -%}
        {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}
""".strip()

_TOPICS = [
    "the weather",
    "a recipe for soup",
    "learning Python",
    "the solar system",
    "a good book",
    "sleep",
    "running shoes",
    "the history of Rome",
    "saving money",
    "writing a poem",
    "a trip to Paris",
    "training a dog",
    "coffee",
    "the ocean",
    "a job interview",
    "gardening",
    "chess",
    "the moon",
]
_ASKS = [
    "Can you tell me about {t}?",
    "What do you know about {t}?",
    "Give me a short tip about {t}.",
    "Why do people care about {t}?",
    "Explain {t} to a child.",
    "Write one sentence about {t}.",
]
_ANSWERS = [
    "Sure. Here is a short answer about {t}: it is a topic many people enjoy.",
    "Of course! {T} is interesting because there is always more to learn.",
    "I am happy to help. The key thing about {t} is to start simple and be patient.",
    "Here is a tip: read a little about {t} every day, and ask questions when you are unsure.",
    "I'm not sure about every detail, but {t} has a long and rich history.",
    "Great question. Most experts agree that {t} rewards careful practice.",
]
_SYSTEMS = ["You are a helpful assistant.", "You are a concise assistant. Answer briefly.", ""]


def _dialogues(rng: random.Random, n: int) -> list[list[dict]]:
    """Template chats (with a few search-tool turns) used to train the tokenizer and warm the model up."""
    chats = []
    for i in range(n):
        t = rng.choice(_TOPICS)
        system = rng.choice(_SYSTEMS)
        chat: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        chat.append({"role": "user", "content": rng.choice(_ASKS).format(t=t)})
        if i % 5 == 0:
            call = {"type": "function", "function": {"name": "search", "arguments": {"query": t}}}
            chat.append({"role": "assistant", "content": "", "tool_calls": [call]})
            chat.append({"role": "tool", "content": f"Result {rng.randint(1, 9)}: an article about {t}."})
        answer = rng.choice(_ANSWERS).format(t=t, T=t[0].upper() + t[1:])
        chat.append({"role": "assistant", "content": answer})
        chats.append(chat)
    return chats


def _train_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    # Digits split one by one (as Llama 2 does) so numbers stay learnable;
    # byte-level keeps any text encodable.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[PAD, BOS, EOS, TURN_START],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[TURN_START],
        padding_side="left",  # generation pads on the left; training code sets what it needs explicitly
    )
    fast.add_tokens([TOOL_CALL_OPEN, TOOL_CALL_CLOSE])
    fast.chat_template = CHAT_TEMPLATE
    return fast


def make_tiny_model(
    out_dir: Path,
    *,
    seed: int = 0,
    warmup_steps: int = 60,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int | None = None,
) -> Path:
    """Build a tiny chat model + tokenizer in out_dir; a few warm-up steps teach it the chat format.

    The defaults make a ~100k-parameter model for tests; benchmarks pass a bigger width and depth.
    """
    if hidden_size % num_heads or num_heads % num_kv_heads:
        raise ValueError("hidden_size must divide into num_heads, and num_heads into num_kv_heads")
    out_dir = Path(out_dir)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    chats = _dialogues(rng, 400)

    # The template needs a tokenizer object to render; render with a throwaway one, then train the real one.
    bootstrap = _train_tokenizer([m["content"] for chat in chats[:50] for m in chat])
    rendered = [str(bootstrap.apply_chat_template(chat, tokenize=False)) for chat in chats]
    tokenizer = _train_tokenizer(rendered)

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        # Llama's 8/3 ratio rounded up to a multiple of 16 (176 for the default width of 64)
        intermediate_size=intermediate_size or -(-hidden_size * 8 // 3 // 16) * 16,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    _warm_up(model, tokenizer, rendered, steps=warmup_steps, seed=seed)

    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def _warm_up(model: LlamaForCausalLM, tokenizer, texts: list[str], *, steps: int, seed: int) -> None:
    """A short language-model pass over the chats so samples look like text and end with <|im_end|>."""
    if steps <= 0:
        return
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        pick = torch.randint(len(ids), (16,), generator=gen).tolist()
        width = max(len(ids[i]) for i in pick)
        batch = torch.full((16, width), tokenizer.pad_token_id)
        for row, i in enumerate(pick):
            batch[row, : len(ids[i])] = torch.tensor(ids[i])
        labels = batch.masked_fill(batch == tokenizer.pad_token_id, -100)
        loss = model(input_ids=batch, attention_mask=(labels != -100).long(), labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    model.eval()
