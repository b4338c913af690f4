"""Sample K candidate answers per prompt from a local model: Coach's own loop, the fallback to vLLM.

The same loop serves a model version over HTTP (trainer_bridge.ml.serve), so a job sampled in-process
and one sampled through that server get the same answers for the same prompt seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from registry.client import readable

# on_batch(first_prompt_index, candidates_of_the_batch): lets the caller store a batch as soon as it is done.
OnBatch = Callable[[int, list[list[str]]], None]


def load_causal_lm(model_dir: str | Path):
    """Model on CUDA in bfloat16 when there is a GPU, else float32 on CPU; tokenizer padding on the left."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model = model.to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"  # new tokens must follow every prompt directly
    return model, tokenizer


class TextStream:
    """Turns a growing list of token ids into text pieces, holding back a character whose bytes are
    not all there yet, so a streamed reply never shows half a character."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.sent = ""

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""  # the rest of the character may come with the next token
        return self._piece(readable(text))

    def end(self) -> str:
        return self._piece(readable(self.tokenizer.decode(self.ids, skip_special_tokens=True)))

    def _piece(self, text: str) -> str:
        if not text.startswith(self.sent):
            return ""
        piece, self.sent = text[len(self.sent) :], text
        return piece


@dataclass(frozen=True)
class Answer:
    text: str
    finish_reason: str  # "stop" (the model ended its turn) or "length" (the token limit cut it)
    tokens: int


class Sampler:
    """A model loaded once, sampling K answers per prompt; the K samples share one prefill of their prompt."""

    # Why not transformers' continuous batching (generate_batch)? It samples on a background thread whose
    # scheduling depends on timing, so results are not reproducible for a seed, and it swallows errors.
    # Why not generate(num_return_sequences=k)? It copies the prompt K times before the prefill and so pays
    # K prefills; here each prompt is prefilled once and its KV cache is repeated K times.

    def __init__(self, model_dir: str | Path) -> None:
        self.model, self.tokenizer = load_causal_lm(model_dir)

    def answers(
        self,
        prompts: list[list[dict]],
        *,
        k: int,
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int = 0,
        seeds: list[int] | None = None,
        batch_size: int = 8,
        on_batch: Callable[[int, list[list[Answer]]], None] | None = None,
    ) -> list[list[Answer]]:
        """K sampled answers per prompt (chat messages), with why each ended.

        With `seeds` (one per prompt) each prompt samples from its own generator, so a prompt's answers do
        not depend on which other prompts share its batch: a job that retries half its prompts gets the
        same answers for them. Without, one generator seeded with `seed` serves the whole call.
        """
        if k < 1 or max_new_tokens < 1:
            raise ValueError("k and max_new_tokens must be at least 1")
        if seeds is not None and len(seeds) != len(prompts):
            raise ValueError("seeds holds one seed per prompt")
        device = self.model.device
        shared = torch.Generator(device=device).manual_seed(seed)
        results: list[list[Answer]] = []
        for start in range(0, len(prompts), batch_size):
            batch = _encode(self.tokenizer, prompts[start : start + batch_size], device)
            if seeds is None:
                gens = [shared]
            else:
                gens = [
                    torch.Generator(device=device).manual_seed(s) for s in seeds[start : start + batch_size]
                ]
            steps = list(
                self._steps(
                    batch, k=k, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, gens=gens
                )
            )
            rows = batch["input_ids"].shape[0] * k
            new_tokens = torch.stack(steps, dim=1).cpu() if steps else torch.empty(rows, 0, dtype=torch.long)
            texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            eos = self.tokenizer.eos_token_id
            answers = []
            for row, text in enumerate(texts):
                ended = (new_tokens[row] == eos).nonzero()
                length = int(ended[0]) + 1 if len(ended) else new_tokens.shape[1]
                answers.append(Answer(readable(text), "stop" if len(ended) else "length", length))
            candidates = [answers[i * k : (i + 1) * k] for i in range(len(answers) // k)]
            results.extend(candidates)
            if on_batch is not None:
                on_batch(start, candidates)
        return results

    def stream(
        self,
        messages: list[dict],
        *,
        n: int = 1,
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int = 0,
    ) -> Iterator[tuple[int, str, str | None]]:
        """(row, text piece, finish reason or None) as the n answers of one prompt grow, token by token.

        It samples exactly what `answers` samples for this prompt and seed: the pieces of a row join into
        that row's answer.
        """
        batch = _encode(self.tokenizer, [messages], self.model.device)
        gens = [torch.Generator(device=self.model.device).manual_seed(seed)]
        decoders = [TextStream(self.tokenizer) for _ in range(n)]
        finished = [False] * n
        eos = self.tokenizer.eos_token_id
        for step in self._steps(
            batch, k=n, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, gens=gens
        ):
            for row, token in enumerate(step.tolist()):
                if finished[row]:
                    continue
                if token == eos:
                    finished[row] = True
                    yield row, decoders[row].end(), "stop"
                elif piece := decoders[row].push(token):
                    yield row, piece, None
        for row in range(n):
            if not finished[row]:
                yield row, decoders[row].end(), "length"

    def _steps(self, batch: dict[str, torch.Tensor], **sampling: Any) -> Iterator[torch.Tensor]:
        return _sample_shared_prefill(
            self.model,
            batch,
            eos_id=self.tokenizer.eos_token_id,
            pad_id=self.tokenizer.pad_token_id,
            **sampling,
        )


def generate_candidates(
    model_dir: str | Path,
    prompts: list[list[dict]],
    *,
    k: int,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    seeds: list[int] | None = None,
    batch_size: int = 8,
    on_batch: OnBatch | None = None,
) -> list[list[str]]:
    """K sampled answers (their text) per prompt; see Sampler.answers."""
    report = None
    if on_batch is not None:
        callback = on_batch

        def report(start: int, batch: list[list[Answer]]) -> None:
            callback(start, [[answer.text for answer in answers] for answers in batch])

    answers = Sampler(model_dir).answers(
        prompts,
        k=k,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        seeds=seeds,
        batch_size=batch_size,
        on_batch=report,
    )
    return [[answer.text for answer in row] for row in answers]


def generate_candidates_naive(
    model_dir: str | Path,
    prompts: list[list[dict]],
    *,
    k: int,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 8,
    on_batch: OnBatch | None = None,
) -> list[list[str]]:
    """Baseline for the benchmark: model.generate(num_return_sequences=k), one prefill per sample."""
    model, tokenizer = load_causal_lm(model_dir)
    torch.manual_seed(seed)
    if temperature > 0:
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
    else:
        sampling = {
            "do_sample": False
        }  # greedy: generate() refuses k > 1, and the k answers are equal anyway
    per_call = k if temperature > 0 else 1
    results: list[list[str]] = []
    for start in range(0, len(prompts), batch_size):
        batch = _encode(tokenizer, prompts[start : start + batch_size], model.device)
        with torch.no_grad():
            out = model.generate(
                **batch,
                **sampling,
                num_return_sequences=per_call,
                max_new_tokens=max_new_tokens,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        texts = [
            readable(text)
            for text in tokenizer.batch_decode(
                out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
            )
        ]
        candidates = [
            texts[i * per_call : (i + 1) * per_call] * (k // per_call) for i in range(len(texts) // per_call)
        ]
        results.extend(candidates)
        if on_batch is not None:
            on_batch(start, candidates)
    return results


def _encode(tokenizer, prompts: list[list[dict]], device: torch.device) -> dict[str, torch.Tensor]:
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    # The template already writes the BOS token, so the tokenizer must not add another.
    enc = tokenizer(texts, padding=True, add_special_tokens=False, return_tensors="pt")
    return {"input_ids": enc["input_ids"].to(device), "attention_mask": enc["attention_mask"].to(device)}


@torch.no_grad()
def _sample_shared_prefill(
    model,
    batch: dict[str, torch.Tensor],
    *,
    k: int,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    gens: list[torch.Generator],
    eos_id: int,
    pad_id: int,
) -> Iterator[torch.Tensor]:
    """Prefill B prompts once, repeat the KV cache K times, decode B*K rows; yields each step's tokens."""
    mask = batch["attention_mask"]
    # Left padding: positions count real tokens only, as generate() does.
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(
        input_ids=batch["input_ids"],
        attention_mask=mask,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,
    )
    cache = out.past_key_values
    cache.batch_repeat_interleave(k)
    logits = out.logits[:, -1].float().repeat_interleave(k, dim=0)
    mask = mask.repeat_interleave(k, dim=0)
    position = positions[:, -1:].repeat_interleave(k, dim=0)

    rows = logits.shape[0]
    finished = torch.zeros(rows, dtype=torch.bool, device=logits.device)
    for _ in range(max_new_tokens):
        next_token = _sample(logits, temperature=temperature, top_p=top_p, gens=gens)
        next_token = next_token.masked_fill(finished, pad_id)
        yield next_token.cpu()
        finished |= next_token == eos_id
        if bool(finished.all()):
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
        position = position + 1
        out = model(
            input_ids=next_token[:, None],
            attention_mask=mask,
            position_ids=position,
            past_key_values=cache,
            use_cache=True,
        )
        logits = out.logits[:, -1].float()


def _sample(
    logits: torch.Tensor, *, temperature: float, top_p: float, gens: list[torch.Generator]
) -> torch.Tensor:
    """Temperature + nucleus sampling; temperature 0 means greedy.

    One generator serves every row, or each generator its equal share of the rows (a prompt's K samples);
    every generator draws once per step even for finished rows, so its stream depends on nothing else.
    """
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        # Drop a token when the tokens ranked above it already cover top_p; the first token always stays.
        drop = sorted_probs.cumsum(dim=-1) - sorted_probs > top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    if len(gens) == 1:
        return torch.multinomial(probs, num_samples=1, generator=gens[0]).squeeze(-1)
    chunks = probs.split(probs.shape[0] // len(gens))
    return torch.cat(
        [torch.multinomial(c, 1, generator=g) for c, g in zip(chunks, gens, strict=True)]
    ).squeeze(-1)
