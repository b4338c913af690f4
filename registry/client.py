"""Coach's client for model servers: any OpenAI-compatible chat-completions API.

The same calls reach a vLLM server, Coach's own transformers server (trainer_bridge.ml.serve) and a hosted
model. K answers of a prompt are one request with `n=K`, so the engine prefills the prompt once and
shares its cache between the K samples; `seed` makes a request's samples repeatable where the engine
guarantees it (docs/operations.md says where). `stream` yields the reply as it is written.
No torch here: the web process and every worker may import it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, cast

import openai
from openai.types.chat import ChatCompletionChunk

# A request of K long answers on a busy CPU server can take minutes; a dead server is found by connecting.
REQUEST_SECONDS = 600.0
CONNECT_SECONDS = 5.0


def wire(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as the chat-completions API takes them: Coach keeps a tool call's arguments as an object
    (the HF chat form), the API as a JSON string."""
    return [
        m | {"tool_calls": [_wire_call(c) for c in m["tool_calls"]]} if m.get("tool_calls") else m
        for m in messages
    ]


def _wire_call(call: dict[str, Any]) -> dict[str, Any]:
    arguments = call["function"].get("arguments", {})
    if isinstance(arguments, str):
        return call
    return call | {"function": call["function"] | {"arguments": json.dumps(arguments)}}


class ServerUnavailable(Exception):
    """The server could not be reached, or answered with an error."""


def readable(text: str) -> str:
    """Model text without replacement characters.

    A byte-level tokenizer can sample bytes that form no character (a barely trained model does so often,
    any model when the token limit cuts a character in two), and decoding turns each such byte into
    U+FFFD. Those bytes carry nothing a labeler could read, so they are dropped.
    """
    return text.replace("\ufffd", "")


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # "stop": the model ended its turn; "length": the token limit cut it


class ServerRecord(Protocol):
    url: str
    served_model_name: str
    api_key_env: str


class ChatClient:
    """One model on one OpenAI-compatible server."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout: float = REQUEST_SECONDS,
        retries: int = 2,
    ) -> None:
        self.base_url, self.model = base_url.rstrip("/"), model
        self._api = openai.OpenAI(
            base_url=self.base_url,
            # A local server takes any key; the library refuses an empty one.
            api_key=api_key or "none",
            timeout=openai.Timeout(timeout, connect=CONNECT_SECONDS),
            max_retries=retries,
        )

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        n: int = 1,
        seed: int | None = None,
        max_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
    ) -> list[Completion]:
        """n sampled replies to the conversation, in the server's order."""
        try:
            response = self._api.chat.completions.create(
                model=self.model,
                messages=wire(messages),  # type: ignore[arg-type]  # plain dicts in the chat format
                n=n,
                seed=seed,
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
            )
        except openai.OpenAIError as exc:
            raise ServerUnavailable(_why(exc)) from exc
        choices = sorted(response.choices, key=lambda choice: choice.index)
        if len(choices) != n:
            raise ServerUnavailable(f"asked for {n} replies, the server sent {len(choices)}")
        return [Completion(readable(c.message.content or ""), c.finish_reason or "stop") for c in choices]

    def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        seed: int | None = None,
        max_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
    ) -> Iterator[str]:
        """The reply's text, piece by piece as the server writes it."""
        try:
            chunks = self._api.chat.completions.create(
                model=self.model,
                messages=wire(messages),  # type: ignore[arg-type]
                seed=seed,
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
                stream=True,
            )
            for chunk in chunks:
                for choice in cast(ChatCompletionChunk, chunk).choices:
                    if piece := readable(choice.delta.content or ""):
                        yield piece
        except openai.OpenAIError as exc:
            raise ServerUnavailable(_why(exc)) from exc

    def served_models(self) -> list[str]:
        try:
            return [model.id for model in self._api.models.list()]
        except openai.OpenAIError as exc:
            raise ServerUnavailable(_why(exc)) from exc

    def close(self) -> None:
        self._api.close()


def _why(exc: openai.OpenAIError) -> str:
    if isinstance(exc, openai.APIStatusError):
        try:
            message = exc.response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = exc.response.text[:300]
        return f"the server answered {exc.status_code}: {message}"
    if isinstance(exc, openai.APITimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, openai.APIConnectionError):
        return f"the server cannot be reached ({exc.__cause__ or exc})"
    return str(exc)


def client_for(server: ServerRecord, **options: Any) -> ChatClient:
    """A client for a registered server; its API key is read from the environment variable it names."""
    key = os.environ.get(server.api_key_env, "") if server.api_key_env else ""
    return ChatClient(base_url=server.url, model=server.served_model_name, api_key=key, **options)


def probe(server: ServerRecord, *, timeout: float = 3.0) -> tuple[bool, str]:
    """(healthy, what was found): healthy when the server lists the model it is registered to serve."""
    client = client_for(server, timeout=timeout, retries=0)
    try:
        served = client.served_models()
    except ServerUnavailable as exc:
        return False, str(exc)
    finally:
        client.close()
    if server.served_model_name not in served:
        return False, f"the server serves {served[:5]}, not {server.served_model_name!r}"
    return True, f"answering for {server.served_model_name}"
