"""The one way jobs sample from a model version: through a model server, or with Coach's own loop.

Which engine a job uses (`engine`):
- "auto" (the default): a server that answers for the version (registry.selectors.server_for: one a
  serving job runs, or one an operator registered); with none, Coach's transformers loop in the worker.
- "vllm": a vLLM server for the version; with none, the job starts one on its worker for itself and
  stops it when it ends (a killed worker takes that server down with it).
- "transformers": Coach's loop in the worker, even when a server answers.

Through a server, each prompt is one request for its K answers (`n=K`, one prefill shared by the K
samples) with the prompt's own seed, and up to settings.SERVER_CONCURRENCY requests are in flight, so
the engine batches across prompts; answers come back in prompt order, `batch_size` prompts at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings

from core.errors import DomainError
from registry.client import ChatClient, Completion, ServerUnavailable, client_for
from registry.models import ModelServer, ModelVersion
from registry.selectors import server_for

ENGINES = ("auto", "vllm", "transformers")
OnBatch = Callable[[int, list[list[str]]], None]  # (index of the batch's first prompt, its answers)


def sample_answers(
    *,
    model: ModelVersion,
    prompts: list[list[dict[str, Any]]],
    k: int,
    seeds: list[int],
    max_new_tokens: int,
    temperature: float,
    top_p: float = 1.0,
    batch_size: int = 8,
    on_batch: OnBatch,
    log: Callable[[str], None],
    should_stop: Callable[[], bool] = lambda: False,
    engine: str = "auto",
    on_engine: Callable[[str], None] = lambda name: None,
) -> str:
    """K answers for each prompt, handed to on_batch in prompt order; on_engine hears, before the first
    batch, which engine writes them (vllm, transformers or openai), and so does the return value."""
    if engine not in ENGINES:
        raise DomainError(f"engine is one of {list(ENGINES)}", field="engine")
    sampling: dict[str, Any] = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p}
    server = None if engine == "transformers" else server_for(model_version=model, engine=_wanted(engine))
    if server is not None:
        log(f"sampling through {server} at {server.url}")
        on_engine(server.engine)
        client = client_for(server)
        try:
            _through_server(
                client, prompts, k=k, seeds=seeds, batch_size=batch_size, on_batch=on_batch, **sampling
            )
        except ServerUnavailable as exc:
            raise DomainError(
                f"the model server at {server.url} failed: {exc}; retry the job to resume"
            ) from exc
        finally:
            client.close()
        return server.engine
    if engine == "vllm":
        on_engine(ModelServer.Engine.VLLM)
        _through_own_vllm(
            model,
            prompts,
            k=k,
            seeds=seeds,
            batch_size=batch_size,
            on_batch=on_batch,
            log=log,
            should_stop=should_stop,
            **sampling,
        )
        return ModelServer.Engine.VLLM
    from trainer_bridge.ml.generate import generate_candidates  # torch: only GPU workers get here

    log(f"sampling with Coach's transformers loop from {model.path}")
    on_engine(ModelServer.Engine.TRANSFORMERS)
    generate_candidates(
        model.path, prompts, k=k, seeds=seeds, batch_size=batch_size, on_batch=on_batch, **sampling
    )
    return ModelServer.Engine.TRANSFORMERS


def _wanted(engine: str) -> str:
    return ModelServer.Engine.VLLM if engine == "vllm" else ""


def _through_server(
    client: ChatClient,
    prompts: list[list[dict[str, Any]]],
    *,
    k: int,
    seeds: list[int],
    batch_size: int,
    on_batch: OnBatch,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
) -> None:
    window = max(1, settings.SERVER_CONCURRENCY)
    pool = ThreadPoolExecutor(max_workers=min(window, len(prompts)) or 1, thread_name_prefix="sample")
    in_flight: deque[Future[list[Completion]]] = deque()

    def send(i: int) -> None:
        in_flight.append(
            pool.submit(
                client.complete,
                prompts[i],
                n=k,
                seed=seeds[i],
                max_tokens=max_new_tokens,
                temperature=temperature,
                top_p=top_p,
            )
        )

    try:
        sent = 0
        while sent < min(window, len(prompts)):
            send(sent)
            sent += 1
        first, batch = 0, []
        while in_flight:
            batch.append([c.text for c in in_flight.popleft().result()])
            if sent < len(prompts):
                send(sent)
                sent += 1
            if len(batch) == batch_size or not in_flight:
                on_batch(first, batch)  # stores the batch; raises JobStopped once the job is cancelled
                first, batch = first + len(batch), []
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _through_own_vllm(
    model: ModelVersion,
    prompts: list[list[dict[str, Any]]],
    *,
    log: Callable[[str], None],
    should_stop: Callable[[], bool],
    **rest: Any,
) -> None:
    from trainer_bridge import serving

    try:
        process = serving.launch(engine=ModelServer.Engine.VLLM, model_dir=model.path, served_name=model.name)
    except serving.ServerFailed as exc:
        raise DomainError(str(exc), field="engine") from exc
    log(f"no vLLM server answers for {model.name}: starting one for this job at {process.url}")
    client = ChatClient(base_url=process.url, model=model.name)
    try:
        if not serving.wait_ready(process, timeout=settings.SERVER_START_SECONDS, should_stop=should_stop):
            return  # cancelled while it started; the caller sees the cancel at its next check
        log("the job's vLLM server answers")
        _through_server(client, prompts, **rest)
    except (serving.ServerFailed, ServerUnavailable) as exc:
        raise DomainError(f"the job's vLLM server failed: {exc}") from exc
    finally:
        client.close()
        serving.stop(process)
        log("stopped the job's vLLM server")
