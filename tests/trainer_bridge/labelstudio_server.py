"""A real Label Studio server for integration tests: its own cached virtualenv, 127.0.0.1, a free port.

The virtualenv lives in $COACH_LS_VENV (default ~/.cache/coach/labelstudio-venv) and is built once with
pip. Beside it a migrated, empty data directory is kept as a template, so later starts skip Label
Studio's migrations (about 40 s down to about 5 s). Every test run copies the template to a temporary
directory, so runs never share data.
"""

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USERNAME = "lea@example.com"
PASSWORD = "coach-test-password"
TOKEN = "coach0test0legacy0token0123456789"
VERSION = os.environ.get("COACH_LS_VERSION", "1.23.2")


class LabelStudioUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    username: str


def venv_dir() -> Path:
    return Path(os.environ.get("COACH_LS_VENV", Path.home() / ".cache" / "coach" / "labelstudio-venv"))


def ensure_venv() -> Path:
    """The label-studio executable, installing it into the cached virtualenv the first time."""
    venv = venv_dir()
    executable = venv / "bin" / "label-studio"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs never build it at once
        if executable.exists():
            return executable
        shutil.rmtree(venv, ignore_errors=True)
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300
            )
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", f"label-studio=={VERSION}"],
                check=True,
                capture_output=True,
                timeout=1500,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            shutil.rmtree(venv, ignore_errors=True)
            detail = getattr(exc, "stderr", b"") or b""
            raise LabelStudioUnavailable(
                f"could not build the Label Studio virtualenv in {venv}: {exc} {detail[-2000:]!r}"
            ) from None
    return executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "LABEL_STUDIO", "DATABASE"))}
    return env | {
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_USERNAME": USERNAME,
        "LABEL_STUDIO_PASSWORD": PASSWORD,
        "LABEL_STUDIO_USER_TOKEN": TOKEN,
        # Label Studio 1.2x creates organizations with legacy tokens off; the fixed token needs them on.
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
    }


@contextlib.contextmanager
def _running(executable: Path, data_dir: Path, log: Path, timeout: float) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(executable), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)],
            env=_environment(data_dir),
            cwd=data_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it stops its children too
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise LabelStudioUnavailable(f"Label Studio exited early:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise LabelStudioUnavailable(f"Label Studio did not answer within {timeout:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _template(executable: Path) -> Path:
    """A migrated data directory with the test user, made once per virtualenv."""
    template = venv_dir().parent / f"{venv_dir().name}-data-template"
    with open(venv_dir().parent / f"{venv_dir().name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (template / "label_studio.sqlite3").exists():
            return template
        building = template.with_name(template.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        with _running(executable, building, building.parent / "labelstudio-template.log", timeout=600):
            pass
        shutil.rmtree(template, ignore_errors=True)
        building.rename(template)
    return template


@contextlib.contextmanager
def label_studio(tmp_dir: Path, timeout: float = 180) -> Iterator[Server]:
    executable = ensure_venv()
    data_dir = tmp_dir / "label-studio-data"
    shutil.copytree(_template(executable), data_dir)
    with _running(executable, data_dir, tmp_dir / "label-studio.log", timeout) as url:
        yield Server(url=url, token=TOKEN, username=USERNAME)
