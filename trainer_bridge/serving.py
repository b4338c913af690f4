"""Starting, waiting for and stopping a model server process on this machine.

No torch here: each engine runs in a process of its own. vLLM runs from its own virtualenv
(settings.VLLM_PYTHON, `make vllm` builds `.venv-vllm`), because it pins torch and transformers for
itself; Coach's transformers server (trainer_bridge.ml.serve) runs with this interpreter. The server
gets a process group of its own, so a stop reaches the engine's child processes too, and it dies with
the process that started it (a killed worker leaves no server behind).
"""

from __future__ import annotations

import ctypes
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1


class ServerFailed(Exception):
    """The server process ended, or never answered, before it was ready."""


def vllm_python() -> Path | None:
    """The interpreter of vLLM's virtualenv, when vLLM is installed on this machine."""
    path = Path(settings.VLLM_PYTHON)
    return path if path.is_file() else None


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def server_command(
    *, engine: str, model_dir: str, served_name: str, host: str, port: int, options: dict[str, Any]
) -> list[str]:
    """The command line that serves `model_dir` under `served_name` on host:port."""
    if engine == "transformers":
        return [
            sys.executable,
            "-m",
            "trainer_bridge.ml.serve",
            "--model",
            model_dir,
            "--served-model-name",
            served_name,
            "--host",
            host,
            "--port",
            str(port),
        ]
    if engine != "vllm":
        raise ValueError(f"Coach starts vllm and transformers servers, not {engine!r}")
    python = vllm_python()
    if python is None:
        raise ServerFailed(f"vLLM is not installed on this machine (no {settings.VLLM_PYTHON}; `make vllm`)")
    # `vllm serve` is this module behind the `vllm` command, which the CPU build's package cannot start
    # (it looks itself up under the name "vllm").
    command = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir]
    command += ["--served-model-name", served_name, "--host", host, "--port", str(port)]
    for option in ("tensor_parallel_size", "gpu_memory_utilization", "max_model_len"):
        if options.get(option) is not None:
            command += ["--" + option.replace("_", "-"), str(options[option])]
    return command + shlex.split(settings.VLLM_ARGS)


def server_env(engine: str) -> dict[str, str]:
    """The environment of a server process: its thread count bounded when settings.SERVER_THREADS says so."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    if threads := settings.SERVER_THREADS:
        env["OMP_NUM_THREADS"] = str(threads)
        if engine == "vllm":
            # vLLM's CPU build pins one OpenMP thread to every core unless told otherwise.
            env["VLLM_CPU_OMP_THREADS_BIND"] = "nobind"
    return env


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends SIGTERM when the process that started it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ServerProcess:
    process: subprocess.Popen
    url: str  # base URL, ending in /v1
    log_path: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def launch(
    *, engine: str, model_dir: str, served_name: str, options: dict[str, Any] | None = None
) -> ServerProcess:
    """Start a server on a free port of settings.SERVER_HOST; it is not ready yet (see wait_ready)."""
    host = settings.SERVER_HOST
    port = free_port(host)
    command = server_command(
        engine=engine,
        model_dir=model_dir,
        served_name=served_name,
        host=host,
        port=port,
        options=options or {},
    )
    log_dir = Path(settings.DATA_ROOT) / "servers"
    log_dir.mkdir(parents=True, exist_ok=True)
    handle, log_name = tempfile.mkstemp(prefix=f"{engine}-{port}-", suffix=".log", dir=log_dir)
    with os.fdopen(handle, "wb") as log:
        log.write(f"$ {shlex.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=server_env(engine),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return ServerProcess(process, f"http://{host}:{port}/v1", Path(log_name))


def wait_ready(
    server: ServerProcess, *, timeout: float, should_stop: Callable[[], bool] = lambda: False
) -> bool:
    """Wait until the server lists its model; False when should_stop() turned true first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if should_stop():
            return False
        if not server.running():
            raise ServerFailed(
                f"the server exited with code {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/models", timeout=2.0) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise ServerFailed(f"the server did not answer within {timeout:.0f} s:\n{server.log_tail()}")


def stop(server: ServerProcess, *, grace: float = 30.0) -> None:
    """SIGTERM to the server's process group, SIGKILL after `grace` seconds."""
    if not server.running():
        return
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
    except ProcessLookupError:
        server.process.wait()
    try:  # an engine child that outlived its parent
        os.killpg(server.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
