"""Run a training entry module under torchrun with N processes, supervised from a job's work function.

The interface every trainer plugs into (SFT, reward models, DPO, GRPO):

    result = launch(
        entry="trainer_bridge.ml.train",   # run as `python -m <entry> <config.json>` on every rank
        config={...},                       # JSON, written to <workdir>/config.json
        workdir=Path(job.output_dir),       # config, progress file and the launcher's log live here
        processes=2,
        on_event=handle,                    # each JSON line rank 0 writes with `report(...)`
        should_stop=run.should_stop,        # True: the whole process group is ended
    )

The entry module calls `entry_config(argv)` to read its config (it also starts the watchdog that ends
the group when the supervising worker dies), and on rank 0 writes events with `report(event, **data)`:
`progress` lines become job metrics and progress, `log` lines go to the job log, and the last
`result` line is what `launch` returns. This module imports neither torch nor transformers: the
supervisor runs in the Celery worker, the training in the child processes.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"
LOG_FILE = "launcher.log"
SUPERVISOR_ENV = "COACH_SUPERVISOR_PID"
EVENTS_ENV = "COACH_EVENTS_FILE"
STDERR_TAIL = 3000  # characters of the children's output shown in the job log when they fail
_PR_SET_PDEATHSIG = 1


class LaunchFailed(Exception):
    """The training processes exited with an error; `tail` is the end of their output."""

    def __init__(self, message: str, tail: str) -> None:
        super().__init__(f"{message}\n{tail}" if tail else message)
        self.message, self.tail = message, tail


class LaunchStopped(Exception):
    """should_stop() turned true: the process group was ended."""


@dataclass(frozen=True)
class Launched:
    result: dict[str, Any]
    seconds: float


def _die_with_parent() -> None:
    """In the child before exec: a SIGKILL of the worker (its parent) kills the launcher too (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the entry's watchdog on the supervisor's pid still ends the group


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(entry: str, config_path: Path, processes: int) -> list[str]:
    """torchrun on one node (the entry's process group uses gloo on the CPU, nccl on GPUs); one process
    runs the entry directly, which spares torchrun's start-up."""
    if processes == 1:
        return [sys.executable, "-m", entry, str(config_path)]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc_per_node",
        str(processes),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        entry,
        str(config_path),
    ]


def _end_group(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the launcher's whole process group, then SIGKILL what is still there after grace_s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _tail(path: Path) -> str:
    if not path.is_file():
        return ""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - STDERR_TAIL))
        return f.read().decode(errors="replace").strip()


def launch(
    *,
    entry: str,
    config: dict[str, Any],
    workdir: Path,
    processes: int = 1,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    poll_s: float = 0.2,
    grace_s: float = 5.0,
    env: dict[str, str] | None = None,
) -> Launched:
    """Start `entry` on `processes` ranks in a session of its own, feed rank 0's events to `on_event`,
    end the group when `should_stop()` says so (LaunchStopped), raise LaunchFailed with the tail of
    the children's output when they fail, and return the last `result` event."""
    if processes < 1:
        raise ValueError("processes must be at least 1")
    workdir.mkdir(parents=True, exist_ok=True)
    config_path, events_path, log_path = workdir / CONFIG_FILE, workdir / EVENTS_FILE, workdir / LOG_FILE
    config_path.write_text(json.dumps(config))
    events_path.write_text("")  # a resumed launch reports from its own start
    child_env = dict(os.environ, **(env or {}))
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        child_env.pop(name, None)  # torchrun sets them for its ranks; one process runs alone
    child_env[SUPERVISOR_ENV] = str(os.getpid())
    child_env[EVENTS_ENV] = str(events_path)
    child_env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    started = time.monotonic()
    result: dict[str, Any] | None = None
    with log_path.open("ab") as log, events_path.open("rb") as events:
        process = subprocess.Popen(
            command(entry, config_path, processes),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=Path(__file__).resolve().parents[2],
            start_new_session=True,  # its own process group: ended as one
            preexec_fn=_die_with_parent,
        )
        pending = b""
        try:
            while True:
                exited = process.poll() is not None
                pending += events.read()
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("event") == "result":
                        result = event["data"]
                    elif on_event is not None:
                        on_event(event)
                if exited:
                    break
                if should_stop is not None and should_stop():
                    _end_group(process, grace_s)
                    raise LaunchStopped("stopped")
                time.sleep(poll_s)
        except BaseException:
            if process.poll() is None:
                _end_group(process, grace_s)
            raise
    if process.returncode != 0:
        raise LaunchFailed(f"the training processes exited with status {process.returncode}", _tail(log_path))
    if result is None:
        raise LaunchFailed("the training processes ended without a result", _tail(log_path))
    return Launched(result=result, seconds=time.monotonic() - started)


# --- inside the entry module (every rank) ---------------------------------------------------------------


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def report(event: str, **data: Any) -> None:
    """Rank 0 appends one JSON line for the supervisor; other ranks stay quiet."""
    path = os.environ.get(EVENTS_ENV)
    if rank() != 0 or not path:
        return
    with open(path, "a") as f:
        f.write(json.dumps({"event": event, **({"data": data} if event == "result" else data)}) + "\n")


def _watch_supervisor(pid: int) -> None:
    """End this rank's whole process group as soon as the supervising worker is gone."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            try:
                os.killpg(os.getpgrp(), signal.SIGKILL)
            finally:
                os._exit(137)
        except PermissionError:
            pass


def entry_config(argv: list[str]) -> dict[str, Any]:
    """The config the supervisor wrote; also ties this rank's life to the supervisor's."""
    if len(argv) != 2:
        raise SystemExit(f"usage: python -m <entry> <{CONFIG_FILE}>")
    _die_with_parent()  # torchrun's agent is our parent
    if supervisor := os.environ.get(SUPERVISOR_ENV):
        threading.Thread(target=_watch_supervisor, args=(int(supervisor),), daemon=True).start()
    config: dict[str, Any] = json.loads(Path(argv[1]).read_text())
    return config
