"""Candidate generation, K=9 per prompt, four ways on the same prompts and model:

- `loop`: Coach's own transformers loop in this process (one prefill per prompt, its KV cache repeated K
  times), the fallback where vLLM is not installed;
- `generate`: plain `model.generate(num_return_sequences=K)` (the prompt copied K times, K prefills);
- `vllm_direct`: a vLLM server (the CPU build, `make vllm`) driven directly with the OpenAI client: one
  request per prompt with `n=K` and the prompt's seed, as many in flight as a job keeps
  (settings.SERVER_CONCURRENCY);
- `vllm_job`: Coach's generation job through the real stack (Postgres, a Celery worker, the server
  registered for the model version): from `generation_job_start` to the job's `done`, candidates and
  ranking tasks stored.

The model is a tiny Llama built from scratch with random weights (hidden 256, 2 layers, 4 heads of 64:
vLLM's CPU attention needs head_dim 64), so every answer runs to max_new_tokens and every path writes
the same number of tokens. Each repeat runs the four back to back; the ratios are the medians of the
per-repeat ratios (on a shared machine a ratio drifts less than either side). One JSON line last.

    .venv/bin/python bench/generate.py [--prompts 64] [--max-new-tokens 64] [--repeats 3]
"""

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# bench/queue.py shadows the standard library's `queue`: put the repository root first instead of bench/.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._stack import ROOT, scratch_database  # noqa: E402

K = 9
CPU_VLLM_ARGS = "--gpu-memory-utilization 0.1 --max-model-len 1024 --no-enable-chunked-prefill"
BENCH_BROKER = os.environ.get("COACH_BENCH_BROKER", "redis://127.0.0.1:6379/14")
SYSTEM = (
    "You are a helpful assistant for a customer support team. Answer briefly and politely, say when you "
    "do not know, never invent order numbers or prices, and point to the help centre for account issues."
)
QUESTIONS = [
    "How do I reset my password?",
    "Where is my order?",
    "Can I change the delivery address after paying?",
    "What is your refund policy for opened items?",
    "Do you ship to Norway?",
    "Why was my card declined?",
    "How do I cancel my subscription?",
    "Can I buy a gift card for a friend?",
]


def chats(n: int, tag: str) -> list[list[dict]]:
    rng = random.Random(0)
    return [
        [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"{rng.choice(QUESTIONS)} (ticket {tag}-{i})"},
        ]
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8, help="prompts per batch of the loop and the job")
    parser.add_argument("--repeats", type=int, default=3)
    # vLLM's CPU build computes on one core of two (it keeps the other for its API process): the
    # in-process paths get as many torch threads
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the in-process paths")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, scratch_database("coach_bench_generate") as database:
        os.environ.update(
            DATABASE_URL=database,
            CELERY_BROKER_URL=BENCH_BROKER,
            COACH_DATA_ROOT=tmp,
            COACH_MODEL_ROOTS=tmp,
            DJANGO_SETTINGS_MODULE="config.settings",
            # a CPU: the KV cache takes a share of the RAM (the default 0.9 would not fit), and seeded
            # requests need whole-prompt prefill there (docs/operations.md, "Model servers")
            COACH_VLLM_ARGS=os.environ.get("COACH_VLLM_ARGS", CPU_VLLM_ARGS),
        )
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        run(args, Path(tmp))


def run(args: argparse.Namespace, tmp: Path) -> None:
    import torch
    from django.contrib.auth import get_user_model

    from labeling.services.imports import prompts_import
    from labeling.services.projects import project_create
    from registry.client import ChatClient
    from registry.services import model_register
    from trainer_bridge import serving
    from trainer_bridge.ml.generate import generate_candidates, generate_candidates_naive
    from trainer_bridge.ml.tiny import make_tiny_model
    from trainer_bridge.models import GenerationJob, JobStatus
    from trainer_bridge.services.generation import generation_job_start
    from trainer_bridge.services.servers import model_server_check, model_server_register

    torch.set_num_threads(args.threads)
    model_dir = make_tiny_model(
        tmp / "model", seed=0, warmup_steps=0, hidden_size=256, num_layers=2, num_heads=4, num_kv_heads=2
    )
    admin = get_user_model().objects.create_user("bench-admin", is_staff=True)
    model = model_register(path=model_dir, name="bench-llama")
    sampling = {"max_new_tokens": args.max_new_tokens, "temperature": 1.0, "top_p": 1.0}

    started = time.perf_counter()
    server = serving.launch(engine="vllm", model_dir=str(model_dir), served_name=model.name)
    worker = None
    try:
        serving.wait_ready(server, timeout=900)
        startup_s = time.perf_counter() - started
        print(f"vLLM answers after {startup_s:.0f} s at {server.url}", flush=True)
        client = ChatClient(base_url=server.url, model=model.name)
        from django.conf import settings

        concurrency = settings.SERVER_CONCURRENCY

        def project_with_prompts(tag: str):
            project = project_create(
                name=f"bench {tag}", task_kinds=["ranking"], k=K, overlap=1, created_by=admin
            )
            rows = [
                {"external_id": f"{tag}-{i}", "messages": chat}
                for i, chat in enumerate(chats(args.prompts, tag))
            ]
            stream = io.BytesIO("".join(json.dumps(row) + "\n" for row in rows).encode())
            prompts_import(project=project, stream=stream, fmt="jsonl", task_kind="ranking")
            return project

        warm = project_with_prompts("warm")
        registered = model_server_register(
            project=warm, model_version=model, url=server.url, engine="vllm", user=admin
        )
        assert model_server_check(server=registered).status == "healthy"
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "gpu,celery",
             "--concurrency", "1", "--pool", "prefork", "--without-mingle", "--without-gossip",
             "--loglevel", "WARNING"],
            cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), start_new_session=True,
        )  # fmt: skip

        def direct(prompts: list[list[dict]]) -> float:
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                answers = list(
                    pool.map(
                        lambda i: client.complete(
                            prompts[i],
                            n=K,
                            seed=i,
                            max_tokens=args.max_new_tokens,
                            temperature=1.0,
                            top_p=1.0,
                        ),
                        range(len(prompts)),
                    )
                )
            assert sum(len(a) for a in answers) == K * len(prompts)
            return time.perf_counter() - t0

        def job(tag: str) -> tuple[float, float]:
            project = project_with_prompts(tag)
            t0 = time.perf_counter()
            started_job = generation_job_start(
                project=project, model_version=model, user=admin, batch_size=args.batch_size, **sampling
            )
            while (
                found := GenerationJob.objects.get(pk=started_job.pk)
            ).status not in GenerationJob.FINISHED:
                time.sleep(0.01)
            wall = time.perf_counter() - t0
            assert found.status == JobStatus.DONE and "sampling through vLLM" in found.log, found.log
            assert found.candidates_created == K * args.prompts, found.candidates_created
            assert found.started_at and found.finished_at
            return wall, (found.finished_at - found.started_at).total_seconds()

        def in_process(generate) -> float:
            t0 = time.perf_counter()
            out = generate(
                model_dir, chats(args.prompts, "loop"), k=K, seed=0, batch_size=args.batch_size, **sampling
            )
            assert sum(len(a) for a in out) == K * args.prompts
            return time.perf_counter() - t0

        # warm-up: the server's first requests, the worker's first job, the loop's kernels
        direct(chats(args.prompts, "warm"))
        job("warm-job")
        in_process(generate_candidates)

        runs: dict[str, list[float]] = {
            "loop": [],
            "generate": [],
            "vllm_direct": [],
            "vllm_job": [],
            "job_run": [],
        }
        for repeat in range(args.repeats):
            runs["vllm_direct"].append(direct(chats(args.prompts, f"d{repeat}")))
            wall, inside = job(f"j{repeat}")
            runs["vllm_job"].append(wall)
            runs["job_run"].append(inside)
            runs["loop"].append(in_process(generate_candidates))
            runs["generate"].append(in_process(generate_candidates_naive))
            print(
                f"run {repeat + 1}: "
                + ", ".join(f"{name} {seconds[-1]:.2f} s" for name, seconds in runs.items()),
                flush=True,
            )
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, 15)
            worker.wait(timeout=30)
        serving.stop(server)

    candidates = K * args.prompts

    def rate(name: str) -> float:
        return round(candidates / statistics.median(runs[name]), 1)

    def spread(name: str) -> list[float]:
        return [round(candidates / max(runs[name]), 1), round(candidates / min(runs[name]), 1)]

    def paired(a: str, b: str) -> float:
        return round(statistics.median(x / y for x, y in zip(runs[a], runs[b], strict=True)), 3)

    summary = {
        "k": K,
        "prompts": args.prompts,
        "max_new_tokens": args.max_new_tokens,
        "model": "llama hidden 256, 2 layers, 4 heads of 64, random weights",
        "loop_candidates_per_s": rate("loop"),
        "loop_candidates_per_s_min_max": spread("loop"),
        "generate_candidates_per_s": rate("generate"),
        "generate_candidates_per_s_min_max": spread("generate"),
        "vllm_direct_candidates_per_s": rate("vllm_direct"),
        "vllm_direct_candidates_per_s_min_max": spread("vllm_direct"),
        "vllm_job_candidates_per_s": rate("vllm_job"),
        "vllm_job_candidates_per_s_min_max": spread("vllm_job"),
        # the job's wall time: start service to `done`, queueing and the worker's pick-up included
        "speedup_vllm_vs_loop": paired("loop", "vllm_job"),
        "speedup_vllm_direct_vs_loop": paired("loop", "vllm_direct"),
        "speedup_vllm_vs_generate": paired("generate", "vllm_job"),
        "job_overhead_vs_direct_vllm": round(paired("vllm_job", "vllm_direct") - 1, 3),
        "job_run_overhead_vs_direct_vllm": round(paired("job_run", "vllm_direct") - 1, 3),
        "vllm_startup_s": round(startup_s, 1),
        "server_concurrency": concurrency,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "threads": args.threads,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
