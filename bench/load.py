"""Many labelers at once against gunicorn + Postgres + a Celery worker, with exports running meanwhile.

Seeds a scratch database with K=9 ranking tasks (bench/queue.py's seed) plus an archive of accepted
rankings frozen into a snapshot. Then, for a bounded time, N labelers each loop: next task (REST, token),
sometimes open the ranking page (web UI, session cookie), then submit (a few also submit again, which
must count once), skip or release. Meanwhile an admin starts an export of the snapshot over the API,
polls it to done and starts the next. Afterwards every submit acknowledged with 2xx is looked up in the
database. Reports throughput, latency percentiles per operation, HTTP errors by status, double
assignments and lost submissions; one JSON line last.

    python bench/load.py [--seconds 180] [--labelers 64] [--tasks 100000] [--think 1.0]
"""

import sys
from pathlib import Path

# bench/queue.py shadows the standard library's `queue`: import from the repository root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402

from bench._stack import ROOT, gunicorn, scratch_database, summary_ms  # noqa: E402
from bench.queue import seed as seed_queue  # noqa: E402

K = 9
BENCH_BROKER = os.environ.get("COACH_BENCH_BROKER", "redis://127.0.0.1:6379/12")
KEEPALIVE_S = 1.5  # gunicorn closes an idle keep-alive connection after 2 s
EXPORTS: list[dict[str, Any]] = [
    {"kind": "rm", "mode": "pairwise", "margin": True},
    {"kind": "rm", "mode": "kwise"},
    {"kind": "prompts"},
]


@dataclass
class Seeded:
    project: int
    tokens: list[str]  # one per labeler, for the REST API
    sessions: list[str]  # one per labeler, for the web pages
    admin_token: str
    snapshot: int


def seed(*, tasks: int, labelers: int, archive: int) -> Seeded:
    """The queue bench's project, logged-in sessions, and accepted rankings frozen into a snapshot."""
    project, tokens = seed_queue(tasks + archive, K, labelers)
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection

    from accounts.services import api_token_issue
    from curation.snapshots import snapshot_freeze
    from guidelines.models import GuidelineVersion
    from labeling.models import Project

    User = get_user_model()
    sessions = []
    for n in range(labelers):
        # What a successful login stores; the bench measures pages, not password hashing.
        user = User.objects.get(username=f"labeler{n}")
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        sessions.append(session.session_key)
    admin = User.objects.get(username="bench-admin")
    archivist = User.objects.create_user("bench-archive")
    guideline = Project.objects.get(pk=project).guideline_id
    version = GuidelineVersion.objects.filter(guideline_id=guideline).latest("pk").pk
    with connection.cursor() as cursor:
        cursor.execute(
            """WITH done AS (
                   UPDATE labeling_task SET status = 'done', claimed_count = 1, completed_count = 1
                   WHERE id IN (SELECT id FROM labeling_task WHERE project_id = %(p)s ORDER BY id DESC
                                LIMIT %(n)s)
                   RETURNING id)
               INSERT INTO labeling_assignment (task_id, labeler_id, state, leased_at, lease_expires_at,
                   submitted_at, skip_reason)
               SELECT id, %(who)s, 'submitted', now(), now(), now(), '' FROM done;
               INSERT INTO labeling_ranking (assignment_id, task_id, author_id, guideline_version_id,
                   revision, is_current, seconds, created_at, tiers, all_bad)
               SELECT a.id, a.task_id, a.labeler_id, %(v)s, 1, true, 60, now(),
                   (SELECT jsonb_agg(jsonb_build_array(c) ORDER BY o DESC)
                    FROM unnest(t.candidate_ids) WITH ORDINALITY u(c, o)), false
               FROM labeling_assignment a JOIN labeling_task t ON t.id = a.task_id
               WHERE a.labeler_id = %(who)s;
               INSERT INTO labeling_review (assignment_id, reviewer_id, verdict, reason, created_at)
               SELECT id, %(admin)s, 'accept', '', now() FROM labeling_assignment WHERE labeler_id = %(who)s;
               ANALYZE;""",
            {"p": project, "n": archive, "who": archivist.pk, "v": version, "admin": admin.pk},
        )
    snapshot = snapshot_freeze(
        project=Project.objects.get(pk=project),
        name="load archive",
        created_by=admin,
        kinds=["ranking"],
        labelers=[archivist.username],
    )
    admin_token = api_token_issue(user=admin, name="bench")[1]
    connection.close()
    return Seeded(project, tokens, sessions, admin_token, snapshot.pk)


@contextmanager
def celery_worker(env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """One solo-pool worker in its own process group, stopped (or killed) on the way out."""
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-c", "1"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
    # Its banner would go to stdout, where the JSON lines are; its warnings and errors go to stderr.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen, *, kill: bool = False) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Client:
    """A keep-alive HTTP client that times every call and never raises on a failed one."""

    def __init__(self, base: str, headers: dict[str, str], timeout: float = 30) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.address, self.timeout = (host, int(port)), timeout
        self.headers = headers
        self.conn = http.client.HTTPConnection(*self.address, timeout=timeout)
        self.last_used = 0.0
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[str] = Counter()  # "op status" for every answer that was not 2xx
        self.timeline: list[tuple[float, float, str, int]] = []  # (sent, answered, op, status), monotonic

    def call(self, op: str, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        """(status, body); status 0 when the connection failed or timed out."""
        if time.monotonic() - self.last_used > KEEPALIVE_S:
            self.conn.close()  # the server has dropped it by now; a request on it would fail half-sent
        start = time.perf_counter()
        try:
            payload = None if method == "GET" else json.dumps(body or {})
            self.conn.request(method, path, payload, self.headers)
            response = self.conn.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection(*self.address, timeout=self.timeout)
            status, data = 0, type(exc).__name__.encode()
        self.last_used = time.monotonic()
        seconds = time.perf_counter() - start
        self.latencies[op].append(seconds)
        self.timeline.append((self.last_used - seconds, self.last_used, op, status))
        if not 200 <= status < 300:
            self.statuses[f"{op} {status or 'connection_error'}"] += 1
        return status, data

    def close(self) -> None:
        self.conn.close()


class Ledger:
    """What every labeler was given and what the server acknowledged, shared by all of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holding: dict[int, int] = {}  # task -> labeler holding a live assignment on it
        self.submitted: dict[int, int] = {}  # task -> labeler whose submit was acknowledged
        self.acknowledged: dict[int, tuple[int, list[list[int]]]] = {}  # assignment -> (ranking id, tiers)
        self.doubles: list[tuple[int, int, int]] = []  # (task, holder, second labeler)

    def claimed(self, task: int, labeler: int) -> None:
        with self.lock:
            other = self.holding.get(task, self.submitted.get(task))
            if other is not None and other != labeler:
                self.doubles.append((task, other, labeler))
            self.holding[task] = labeler

    def letting_go(self, task: int) -> None:
        # Called before a skip or a release is sent: once the server has it, anyone may get the task.
        with self.lock:
            self.holding.pop(task, None)

    def acknowledge(
        self, task: int, labeler: int, assignment: int, ranking: int, tiers: list[list[int]]
    ) -> None:
        with self.lock:
            self.holding.pop(task, None)
            self.submitted[task] = labeler
            self.acknowledged[assignment] = (ranking, tiers)


@dataclass
class Mix:
    page: float = 0.3  # share of claims whose ranking page is opened
    skip: float = 0.05
    release: float = 0.05
    resubmit: float = 0.03  # share of submits sent twice (a retried request)


@dataclass
class LabelerStats:
    cycles: int = 0
    idle: int = 0  # next answered 204: nothing left to do
    resubmit_changed: int = 0  # a repeated submit that did not give back the same ranking


class Labeler(threading.Thread):
    def __init__(
        self,
        *,
        n: int,
        base: str,
        project: int,
        token: str,
        session: str,
        ledger: Ledger,
        until: float,
        max_cycles: int,
        think: float,
        mix: Mix,
    ) -> None:
        super().__init__(daemon=True, name=f"labeler{n}")
        self.n, self.project, self.ledger = n, project, ledger
        self.until, self.max_cycles, self.think, self.mix = until, max_cycles, think, mix
        self.api = Client(base, {"Authorization": f"Token {token}", "Content-Type": "application/json"})
        self.web = Client(base, {"Cookie": f"sessionid={session}"})
        self.random = random.Random(n)
        self.stats = LabelerStats()

    def pause(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.until - time.monotonic())))

    def run(self) -> None:
        try:
            while time.monotonic() < self.until and self.stats.cycles < self.max_cycles:
                self.cycle()
        finally:
            self.api.close()
            self.web.close()

    def cycle(self) -> None:
        status, data = self.api.call("next", "POST", f"/api/projects/{self.project}/next/")
        if status == 204:
            self.stats.idle += 1
            self.pause(0.5)
            return
        if status != 200:
            self.pause(0.2)  # the server is struggling or down: back off a little, then try again
            return
        assignment = json.loads(data)
        task, aid = assignment["task"]["id"], assignment["id"]
        self.ledger.claimed(task, self.n)
        if self.random.random() < self.mix.page:
            self.web.call("page", "GET", f"/assignments/{aid}/")
        if self.think:
            self.pause(self.random.uniform(0, 2 * self.think))
        roll = self.random.random()
        if roll < self.mix.skip:
            self.ledger.letting_go(task)
            self.api.call("skip", "POST", f"/api/assignments/{aid}/skip/", {"reason": "unclear prompt"})
        elif roll < self.mix.skip + self.mix.release:
            self.ledger.letting_go(task)
            self.api.call("release", "POST", f"/api/assignments/{aid}/release/")
        else:
            self.submit(task, aid, [c["id"] for c in assignment["candidates"]])
        self.stats.cycles += 1

    def submit(self, task: int, aid: int, candidates: list[int]) -> None:
        self.random.shuffle(candidates)
        tiers = [[c] for c in candidates]
        if self.random.random() < 0.2:  # some rankings tie two answers
            tiers[1:3] = [tiers[1] + tiers[2]]
        body = {"tiers": tiers, "seconds": round(self.random.uniform(20, 90), 1)}
        status, data = self.api.call("submit", "POST", f"/api/assignments/{aid}/submit/", body)
        if not 200 <= status < 300:
            return
        ranking = json.loads(data)["id"]
        self.ledger.acknowledge(task, self.n, aid, ranking, tiers)
        if self.random.random() < self.mix.resubmit:
            status, data = self.api.call("resubmit", "POST", f"/api/assignments/{aid}/submit/", body)
            if 200 <= status < 300 and json.loads(data)["id"] != ranking:
                self.stats.resubmit_changed += 1


class ExportLoop(threading.Thread):
    """An admin exporting the snapshot over and over: start, poll to the end, start the next kind."""

    finish_within = 120.0  # seconds one export may take before the loop gives up on it

    def __init__(self, base: str, token: str, snapshot: int, database_url: str, until: float) -> None:
        super().__init__(daemon=True, name="exporter")
        self.snapshot, self.database_url, self.until = snapshot, database_url, until
        self.client = Client(base, {"Authorization": f"Token {token}", "Content-Type": "application/json"})
        self.seconds: list[float] = []
        self.outcomes: Counter[str] = Counter()

    def run(self) -> None:
        try:
            for n in range(1000):
                if time.monotonic() >= self.until:
                    break
                self.export_once(EXPORTS[n % len(EXPORTS)])
        finally:
            self.client.close()

    def export_once(self, options: dict[str, Any]) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            # The same snapshot and options would give back the finished job: make this one run again.
            conn.execute("DELETE FROM trainer_bridge_exportjob WHERE status IN ('done', 'failed')")
        started = time.monotonic()
        status, data = self.client.call(
            "export_start", "POST", f"/api/snapshots/{self.snapshot}/exports/", options
        )
        if status != 202:
            self.outcomes[f"start {status}"] += 1
            time.sleep(1)
            return
        job = json.loads(data)
        deadline = started + self.finish_within
        while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.25)
            status, data = self.client.call("export_poll", "GET", f"/api/exports/{job['id']}/")
            if status == 200:
                job = json.loads(data)
        self.outcomes[job["status"]] += 1
        if job["status"] == "done":
            self.seconds.append(time.monotonic() - started)


def database_checks(url: str, ledger: Ledger) -> dict[str, int]:
    """Doubles and lost submissions as the database sees them after the run."""
    with psycopg.connect(url) as conn:
        doubles = conn.execute(
            """SELECT count(*) FROM (SELECT task_id FROM labeling_assignment
                   WHERE state IN ('active', 'submitted') GROUP BY task_id HAVING count(*) > 1) d"""
        ).fetchone()[0]
        stored = {
            assignment: (ranking, tiers, state)
            for assignment, ranking, tiers, state in conn.execute(
                """SELECT r.assignment_id, r.id, r.tiers, a.state FROM labeling_ranking r
                   JOIN labeling_assignment a ON a.id = r.assignment_id
                   WHERE r.is_current AND r.assignment_id = ANY(%s)""",
                [list(ledger.acknowledged)],
            )
        }
    lost = 0
    for assignment, (ranking, tiers) in ledger.acknowledged.items():
        found = stored.get(assignment)
        if found is None or found[0] != ranking or found[1] != tiers or found[2] != "submitted":
            lost += 1
    return {"double_assignments_db": doubles, "lost_submissions": lost}


def warm_up(base: str, seeded: Seeded, requests: int) -> None:
    """Load the URL configuration and templates in every web worker before the clock starts."""

    def one(n: int) -> None:
        web = Client(base, {"Cookie": f"sessionid={seeded.sessions[n % len(seeded.sessions)]}"})
        web.call("warm", "GET", "/")
        web.close()

    crowd = [threading.Thread(target=one, args=(n,)) for n in range(requests)]
    for thread in crowd:
        thread.start()
    for thread in crowd:
        thread.join(60)


def run_labelers(
    base: str, seeded: Seeded, *, labelers: int, seconds: float, think: float, max_cycles: int, mix: Mix
) -> tuple[list[Labeler], Ledger, float]:
    ledger = Ledger()
    until = time.monotonic() + seconds
    crowd = [
        Labeler(
            n=n,
            base=base,
            project=seeded.project,
            token=seeded.tokens[n],
            session=seeded.sessions[n],
            ledger=ledger,
            until=until,
            max_cycles=max_cycles,
            think=think,
            mix=mix,
        )
        for n in range(labelers)
    ]
    started = time.monotonic()
    for labeler in crowd:
        labeler.start()
    for labeler in crowd:
        labeler.join(seconds + 60)
    return crowd, ledger, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--labelers", type=int, default=64)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument(
        "--archive", type=int, default=5_000, help="accepted rankings in the exported snapshot"
    )
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds between claim and answer")
    parser.add_argument("--max-cycles", type=int, default=100_000, help="per labeler")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    args = parser.parse_args()
    data_root = Path(tempfile.mkdtemp(prefix="coach-bench-load-"))

    with scratch_database("coach_bench_load") as url:
        # The sessions made by the seed are signed with the key kept under the data root the servers use.
        os.environ.update(
            DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings", COACH_DATA_ROOT=str(data_root)
        )
        started = time.monotonic()
        seeded = seed(tasks=args.tasks, labelers=args.labelers, archive=args.archive)
        seed_s = time.monotonic() - started
        print(f"seeded in {seed_s:.0f} s", file=sys.stderr)
        # A broker database of its own, so no other worker on this Redis takes the bench's jobs.
        env = dict(os.environ, CELERY_BROKER_URL=BENCH_BROKER, DB_CONN_MAX_AGE="600")
        with celery_worker(env) as worker, gunicorn(env, workers=args.workers, threads=args.threads) as base:
            warm_up(base, seeded, 8 * args.workers)
            exporter = ExportLoop(
                base, seeded.admin_token, seeded.snapshot, url, time.monotonic() + args.seconds
            )
            exporter.start()
            crowd, ledger, elapsed = run_labelers(
                base,
                seeded,
                labelers=args.labelers,
                seconds=args.seconds,
                think=args.think,
                max_cycles=args.max_cycles,
                mix=Mix(),
            )
            exporter.join(exporter.finish_within + 30)
            worker_alive = worker.poll() is None
        checks = database_checks(url, ledger)
    shutil.rmtree(data_root, ignore_errors=True)

    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: Counter[str] = Counter()
    for client in [c for labeler in crowd for c in (labeler.api, labeler.web)] + [exporter.client]:
        for op, values in client.latencies.items():
            latencies[op].extend(values)
        statuses.update(client.statuses)
    requests = sum(len(v) for v in latencies.values())
    errors_5xx = sum(n for key, n in statuses.items() if key.split()[-1].startswith("5"))
    cycles = sum(labeler.stats.cycles for labeler in crowd)
    result = {
        "bench": "load",
        "labelers": args.labelers,
        "seconds": round(elapsed, 1),
        "tasks": args.tasks,
        "think_s": args.think,
        "seed_s": round(seed_s, 1),
        "cycles_per_s": round(cycles / elapsed, 1),
        "requests_per_s": round(requests / elapsed, 1),
        "submits_acknowledged": len(ledger.acknowledged),
        "ops": {op: {"count": len(v), **summary_ms(v)} for op, v in sorted(latencies.items())},
        "http_errors": dict(sorted(statuses.items())),
        "errors_5xx": errors_5xx,
        "connection_errors": sum(n for key, n in statuses.items() if key.endswith("connection_error")),
        "double_assignments": len(ledger.doubles) + checks["double_assignments_db"],
        "double_assignments_seen_by_clients": len(ledger.doubles),
        "double_assignments_db": checks["double_assignments_db"],
        "lost_submissions": checks["lost_submissions"],
        "resubmits_not_idempotent": sum(labeler.stats.resubmit_changed for labeler in crowd),
        "idle_next": sum(labeler.stats.idle for labeler in crowd),
        "exports": {
            **dict(exporter.outcomes),
            "seconds_median": round(statistics.median(exporter.seconds), 2) if exporter.seconds else None,
        },
        "worker_alive_at_end": worker_alive,
    }
    result["ok"] = (
        result["errors_5xx"] == 0
        and result["connection_errors"] == 0
        and result["double_assignments"] == 0
        and result["lost_submissions"] == 0
        and result["resubmits_not_idempotent"] == 0
        and exporter.outcomes.get("done", 0) > 0
        and exporter.outcomes.get("failed", 0) == 0
    )
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
