"""Serve a model version over an OpenAI-compatible API with transformers: the serving path without vLLM.

    python -m trainer_bridge.ml.serve --model DIR --served-model-name NAME --port 8100

It answers what Coach's client asks of any engine: `GET /health`, `GET /v1/models` and
`POST /v1/chat/completions` with `n`, `seed`, `max_tokens` (or `max_completion_tokens`), `temperature`,
`top_p` and `stream` (server-sent events, one chunk per token of each of the n answers). It samples with
Coach's own loop (trainer_bridge.ml.generate.Sampler): the answers for a prompt and seed are the ones
the in-process fallback gives, streamed or not.

Why not `transformers serve`: it refuses `n`, seeds the global torch generator (so concurrent requests
change each other's answers) and needs FastAPI and uvicorn. This is the standard library's threading
HTTP server; a small pool bounds how many requests sample at once.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_N = 16
MAX_BODY = 8 * 1024 * 1024


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.param, self.status = param, status


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadRequest(f"{name} must be a number between {low} and {high}", name)
    return float(value)


def _whole(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name} must be a whole number between {low} and {high}", name)
    return value


def _hf_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message as chat templates read it: a tool call's arguments as an object, not the API's JSON string
    (as vLLM does)."""
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        return message
    hf = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            try:
                call = call | {"function": function | {"arguments": json.loads(function["arguments"])}}
            except ValueError:
                raise BadRequest("a tool call's arguments must be JSON", "messages") from None
        hf.append(call)
    return message | {"tool_calls": hf}


def parse_request(body: Any, served_name: str) -> dict[str, Any]:
    """The sampling a chat-completions body asks for, or BadRequest naming the field at fault."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    if body.get("model") != served_name:
        raise BadRequest(f"this server serves the model {served_name!r}", "model", HTTPStatus.NOT_FOUND)
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content", ""), str)
            for m in messages
        )
    ):
        raise BadRequest("messages must be a list of {role, content} objects", "messages")
    limit_name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise BadRequest("seed must be a whole number from 0 to 2**63 - 1", "seed")
    return {
        "messages": [_hf_message(m) for m in messages],
        "n": _whole(body, "n", 1, 1, MAX_N),
        "max_new_tokens": _whole(body, limit_name, 256, 1, 8192),
        "temperature": _number(body, "temperature", 1.0, 0.0, 5.0),
        "top_p": _number(body, "top_p", 1.0, 1e-9, 1.0),
        "seed": secrets.randbelow(2**63) if seed is None else seed,
        "stream": bool(body.get("stream", False)),
    }


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sampler: Any, served_name: str, concurrency: int) -> None:
        super().__init__(address, ChatHandler)
        self.sampler, self.served_name = sampler, served_name
        self.slots = threading.BoundedSemaphore(concurrency)


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # one line per request is noise at this rate
        pass

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json(HTTPStatus.OK, {"status": "ok"})
        elif self.path == "/v1/models":
            model = {"id": self.server.served_name, "object": "model", "created": 0, "owned_by": "coach"}
            self._json(HTTPStatus.OK, {"object": "list", "data": [model]})
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}")

    def do_POST(self) -> None:
        if self.path != "/v1/chat/completions":
            self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                raise BadRequest(f"the body must hold 1 to {MAX_BODY} bytes")
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError as exc:
                raise BadRequest(f"the body is not JSON: {exc}") from exc
            request = parse_request(body, self.server.served_name)
        except BadRequest as exc:
            self._error(exc.status, str(exc), exc.param)
            return
        with self.server.slots:
            if request["stream"]:
                self._stream(request)
            else:
                self._complete(request)

    def _complete(self, request: dict[str, Any]) -> None:
        [answers] = self.server.sampler.answers(
            [request["messages"]],
            k=request["n"],
            seeds=[request["seed"]],
            max_new_tokens=request["max_new_tokens"],
            temperature=request["temperature"],
            top_p=request["top_p"],
        )
        self._json(
            HTTPStatus.OK,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.server.served_name,
                "choices": [
                    {
                        "index": i,
                        "message": {"role": "assistant", "content": a.text},
                        "finish_reason": a.finish_reason,
                    }
                    for i, a in enumerate(answers)
                ],
                "usage": {"completion_tokens": sum(a.tokens for a in answers)},
            },
        )

    def _stream(self, request: dict[str, Any]) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        first = [{"index": i, "delta": {"role": "assistant", "content": ""}} for i in range(request["n"])]
        try:
            self._event(ident, created, first)
            for row, piece, finish in self._pieces(request):
                self._event(
                    ident, created, [{"index": row, "delta": {"content": piece}, "finish_reason": finish}]
                )
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away; the sampling stops with the generator

    def _pieces(self, request: dict[str, Any]) -> Iterator[tuple[int, str, str | None]]:
        return self.server.sampler.stream(
            request["messages"],
            n=request["n"],
            seed=request["seed"],
            max_new_tokens=request["max_new_tokens"],
            temperature=request["temperature"],
            top_p=request["top_p"],
        )

    def _event(self, ident: str, created: int, choices: list[dict[str, Any]]) -> None:
        chunk = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": self.server.served_name,
            "choices": [{"finish_reason": None} | choice for choice in choices],
        }
        self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.flush()

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, param: str | None = None) -> None:
        kind = "not_found_error" if status == HTTPStatus.NOT_FOUND else "invalid_request_error"
        self._json(status, {"error": {"message": message, "type": kind, "param": param, "code": None}})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a local model directory")
    parser.add_argument("--served-model-name", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--concurrency", type=int, default=2, help="requests that sample at once")
    args = parser.parse_args(argv)

    from trainer_bridge.ml.generate import Sampler  # torch loads here, in the server process only

    sampler = Sampler(args.model)
    server = ChatServer((args.host, args.port), sampler, args.served_model_name, args.concurrency)
    print(
        f"serving {args.model} as {args.served_model_name} on http://{args.host}:{args.port}/v1", flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
