"""Label Studio on Postgres for benchmarks: its cached virtualenv, a scratch database, a server on 127.0.0.1.

The first start on a fresh database runs Label Studio's migrations (minutes on Postgres). The migrated
database is kept on the server as a template (like the cached virtualenv), so later runs create their
scratch database from it with CREATE DATABASE ... TEMPLATE and start in seconds.
"""

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench._stack import free_port, server_url
from tests.trainer_bridge.labelstudio_server import (
    TOKEN,
    USERNAME,
    VERSION,
    LabelStudioUnavailable,
    _environment,
    ensure_venv,
)

TEMPLATE_DB = f"coach_bench_labelstudio_{VERSION.replace('.', '_')}_template"

# Creates annotators with their own API tokens in the admin's organization, inside Label Studio's Django.
CREATE_ANNOTATORS = """
import json, os, sys
import label_studio
sys.path.insert(0, os.path.dirname(label_studio.__file__))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "label_studio.core.settings.label_studio")
import django
django.setup()
from organizations.models import Organization
from rest_framework.authtoken.models import Token
from users.models import User
organization = Organization.objects.first()
tokens = []
for n in range(int(sys.argv[1])):
    user = User.objects.create_user(email=f"annotator{n}@example.com", password="annotator-password-123")
    organization.add_user(user)
    user.active_organization = organization
    user.save(update_fields=["active_organization"])
    tokens.append(Token.objects.get_or_create(user=user)[0].key)
print(json.dumps(tokens))
"""


@dataclass(frozen=True)
class LabelStudioServer:
    url: str
    token: str
    pid: int
    env: dict[str, str]
    python: Path


def _postgres_environment(data_dir: Path, database: str) -> dict[str, str]:
    host, port = "127.0.0.1", "5432"
    user = "postgres"
    with psycopg.connect(server_url()) as conn:
        info = conn.info
        host, port, user, password = (
            info.host or host,
            str(info.port or port),
            info.user or user,
            info.password,
        )
    return _environment(data_dir) | {
        "DJANGO_DB": "default",  # Label Studio's name for its PostgreSQL settings
        "POSTGRE_NAME": database,
        "POSTGRE_USER": user,
        "POSTGRE_PASSWORD": password or "",
        "POSTGRE_HOST": host,
        "POSTGRE_PORT": port,
        "LOG_LEVEL": "WARNING",
    }


def _admin(command: str) -> None:
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(command)


@contextlib.contextmanager
def _running(executable: Path, env: dict[str, str], log: Path, timeout: float) -> Iterator[LabelStudioServer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(executable), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=env["LABEL_STUDIO_BASE_DATA_DIR"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops its children too
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise LabelStudioUnavailable(f"Label Studio exited early:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            if time.monotonic() > deadline:
                raise LabelStudioUnavailable(f"Label Studio did not answer within {timeout:.0f} s")
            time.sleep(0.3)
        yield LabelStudioServer(url, TOKEN, process.pid, env, executable.parent / "python")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _template_exists() -> bool:
    with psycopg.connect(server_url()) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [TEMPLATE_DB]).fetchone() is not None
        )


def ensure_template(executable: Path, work: Path) -> float:
    """A migrated Label Studio database kept as a template; returns seconds spent migrating (0 if cached)."""
    if _template_exists():
        return 0.0
    building = f"{TEMPLATE_DB}_building"
    _admin(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{building}"')
    data_dir = work / "label-studio-template"
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        with _running(executable, _postgres_environment(data_dir, building), work / "ls-migrate.log", 1200):
            pass
    except BaseException:
        _admin(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        raise
    _admin(f'ALTER DATABASE "{building}" RENAME TO "{TEMPLATE_DB}"')
    return time.monotonic() - started


@contextlib.contextmanager
def label_studio_on_postgres(database: str, work: Path, timeout: float = 300) -> Iterator[LabelStudioServer]:
    """Label Studio on a scratch Postgres database copied from the migrated template, dropped afterwards."""
    executable = ensure_venv()
    ensure_template(executable, work)
    _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{database}" TEMPLATE "{TEMPLATE_DB}"')
    data_dir = work / "label-studio-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        env = _postgres_environment(data_dir, database)
        with _running(executable, env, work / "label-studio.log", timeout) as server:
            yield server
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def create_annotators(server: LabelStudioServer, count: int) -> list[str]:
    """Annotator accounts in the admin's organization; returns their API tokens."""
    with tempfile.TemporaryFile() as err:
        out = subprocess.run(
            [str(server.python), "-c", CREATE_ANNOTATORS, str(count)],
            env=server.env,
            cwd=server.env["LABEL_STUDIO_BASE_DATA_DIR"],
            stdout=subprocess.PIPE,
            stderr=err,
            timeout=300,
        )
        if out.returncode != 0:
            err.seek(0)
            raise LabelStudioUnavailable(f"creating annotators failed: {err.read().decode()[-2000:]}")
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


__all__ = ["USERNAME", "LabelStudioServer", "create_annotators", "label_studio_on_postgres"]
