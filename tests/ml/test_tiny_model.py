import json

from transformers import AutoModelForCausalLM

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the uploaded corpus.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}


def test_tiny_model_is_a_small_llama_saved_as_safetensors(tiny_model_dir, tiny_tokenizer):
    assert (tiny_model_dir / "model.safetensors").is_file()
    assert (tiny_model_dir / "tokenizer.json").is_file()
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "llama"
    assert model.config.hidden_size == 64 and model.config.num_hidden_layers == 2
    assert model.config.vocab_size == len(tiny_tokenizer)
    assert 512 <= len(tiny_tokenizer) <= 1024
    assert sum(p.numel() for p in model.parameters()) < 200_000


def test_special_tokens_are_distinct(tiny_tokenizer):
    ids = {tiny_tokenizer.bos_token_id, tiny_tokenizer.eos_token_id, tiny_tokenizer.pad_token_id}
    assert None not in ids and len(ids) == 3


def test_tokenizer_round_trips_any_text(tiny_tokenizer):
    for text in [
        "Hello, world!",
        "  two  spaces\nand a newline\t",
        "12345 + 678 = 13023",
        "café ñ 日本語 🙂",
        "",
    ]:
        ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tiny_tokenizer.decode(ids) == text


def test_digits_are_single_tokens(tiny_tokenizer):
    tokens = tiny_tokenizer.tokenize("2025")
    assert len(tokens) == 4


def test_chat_template_renders_roles_and_generation_prompt(tiny_tokenizer):
    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Bye"},
    ]
    text = tiny_tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|begin_of_text|><|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n"
        "<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_chat_template_renders_tools_tool_calls_and_tool_results(tiny_tokenizer):
    chat = [
        {"role": "user", "content": "Who wrote Dune?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"type": "function", "function": {"name": "search", "arguments": {"query": "Dune author"}}}
            ],
        },
        {"role": "tool", "name": "search", "content": "Dune is a 1965 novel by Frank Herbert."},
        {"role": "assistant", "content": "Frank Herbert."},
    ]
    text = tiny_tokenizer.apply_chat_template(chat, tools=[SEARCH_TOOL], tokenize=False)
    assert json.dumps(SEARCH_TOOL) in text
    call = '<tool_call>{"name": "search", "arguments": {"query": "Dune author"}}</tool_call>'
    assert f"<|im_start|>assistant\n{call}<|im_end|>\n" in text
    assert "<|im_start|>tool\nDune is a 1965 novel by Frank Herbert.<|im_end|>\n" in text
    # A generated tool call survives decoding with skip_special_tokens.
    ids = tiny_tokenizer(call, add_special_tokens=False)["input_ids"]
    assert tiny_tokenizer.decode(ids, skip_special_tokens=True) == call
