"""Next-task and submit latency with N concurrent labelers over HTTP, against gunicorn + Postgres.

Seeds a scratch database with a project of 100,000 ranking tasks (K=9), then runs two phases:
capacity (closed loop, no think time, all labelers starting at once) and latency at a realistic
offered load (think time between next and submit, labelers arriving spread over their first think
time). Prints one JSON line last.

    python bench/queue.py [--tasks 100000] [--labelers 16] [--seconds 15] [--repeats 3]
        [--orders arrival,uncertainty]
"""

import sys
from pathlib import Path

# This file's name shadows the standard library's `queue`: run from the repository root instead of bench/.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from bench._stack import gunicorn, scratch_database, summary_ms  # noqa: E402

ANSWER = (
    "This answer walks through the question step by step, gives the key facts, and ends with a short "
    "recommendation the user can act on. "
) * 4


def seed(tasks: int, k: int, labelers: int) -> tuple[int, list[str]]:
    """One project of `tasks` ranking tasks in arrival order (what the page, load and fault benches use)."""
    projects, tokens = seed_orders(tasks, k, labelers, ["arrival"])
    return projects["arrival"], tokens


def seed_orders(tasks: int, k: int, labelers: int, orders: list[str]) -> tuple[dict[str, int], list[str]]:
    """One project of `tasks` ranking tasks per queue order; every labeler a member of each."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import api_token_issue
    from guidelines.services import guideline_acknowledge, guideline_publish
    from labeling.services.projects import membership_set, project_create

    call_command("migrate", verbosity=0)
    User = get_user_model()
    admin = User.objects.create_user("bench-admin", is_staff=True)
    users = [User.objects.create_user(f"labeler{n}") for n in range(labelers)]
    projects = {}
    for order in orders:
        project = project_create(
            name=f"queue bench ({order})", task_kinds=["ranking"], k=k, overlap=1, lease_seconds=3600,
            created_by=admin,
        )  # fmt: skip
        version = guideline_publish(
            guideline=project.guideline,
            author=admin,
            body="Rank by helpfulness.",
            change_note="First version",
        )
        _seed_tasks(connection, project.pk, tasks, k, order)
        for user in users:
            membership_set(project=project, user=user, role="labeler")
            guideline_acknowledge(user=user, version=version)
        projects[order] = project.pk
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    tokens = [api_token_issue(user=user, name="bench")[1] for user in users]
    connection.close()
    return projects, tokens


def _seed_tasks(connection, project_id: int, tasks: int, k: int, order: str) -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            "COPY labeling_prompt (project_id, messages, source, external_id, content_hash, metadata, "
            "created_at) FROM STDIN"
        ) as copy:
            for i in range(tasks):
                messages = json.dumps(
                    [{"role": "user", "content": f"Bench question {i}: how should I do this?"}]
                )
                copy.write_row((project_id, messages, "bench", f"q{i}", f"{i:064x}", "{}", "now"))
        raw.execute("SELECT id FROM labeling_prompt WHERE project_id = %s ORDER BY id", [project_id])
        prompt_ids = [row[0] for row in raw.fetchall()]
        with raw.copy(
            "COPY labeling_candidate (prompt_id, text, model_name, sampling_params, sample_index, "
            "created_at) FROM STDIN"
        ) as copy:
            for prompt_id in prompt_ids:
                for j in range(k):
                    copy.write_row((prompt_id, f"[{j}] {ANSWER}", "bench-model", "{}", j, "now"))
        raw.execute(
            """INSERT INTO labeling_task (project_id, prompt_id, kind, candidate_ids, status, required_count,
                   claimed_count, completed_count, is_gold, created_at)
               SELECT p.project_id, p.id, 'ranking', array_agg(c.id ORDER BY c.sample_index), 'open', 1, 0, 0,
                   false, now()
               FROM labeling_prompt p JOIN labeling_candidate c ON c.prompt_id = p.id
               WHERE p.project_id = %s GROUP BY p.id ORDER BY p.id""",
            [project_id],
        )
        if order == "uncertainty":  # active task selection: every task scored, as after a scoring job
            raw.execute("UPDATE labeling_task SET uncertainty = random() WHERE project_id = %s", [project_id])
            raw.execute("UPDATE labeling_project SET queue_order = 'uncertainty' WHERE id = %s", [project_id])


class Labeler(threading.Thread):
    def __init__(self, base: str, project: int, token: str, until: float, think: float, seed: int):
        super().__init__(daemon=True)
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.project, self.until, self.think = project, until, think
        self.random = random.Random(seed)
        self.next_s: list[float] = []
        self.submit_s: list[float] = []
        self.tasks: list[int] = []
        self.errors = 0
        self.cycles = 0

    def call(self, path: str, body: dict | None = None) -> tuple[int, bytes, float]:
        start = time.perf_counter()
        self.conn.request("POST", path, json.dumps(body or {}), self.headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - start

    def run(self) -> None:
        if self.think:
            # Labelers at work do not all press "next" in the same millisecond: each starts somewhere in
            # their first think time, as they would arrive in the day. The capacity phase keeps the burst.
            time.sleep(self.random.uniform(0, self.think))
        while time.monotonic() < self.until:
            status, data, seconds = self.call(f"/api/projects/{self.project}/next/")
            if status != 200:
                self.errors += status >= 500
                break
            self.next_s.append(seconds)
            assignment = json.loads(data)
            self.tasks.append(assignment["task"]["id"])
            if self.think:
                time.sleep(self.random.uniform(0.5, 1.5) * self.think)
            tiers = [[c["id"]] for c in assignment["candidates"]]
            status, _, seconds = self.call(f"/api/assignments/{assignment['id']}/submit/", {"tiers": tiers})
            if status >= 500:
                self.errors += 1
            self.submit_s.append(seconds)
            self.cycles += 1
        self.conn.close()


def phase(base: str, project: int, tokens: list[str], seconds: float, think: float) -> dict:
    until = time.monotonic() + seconds
    clients = [Labeler(base, project, token, until, think, n) for n, token in enumerate(tokens)]
    started = time.monotonic()
    for client in clients:
        client.start()
    for client in clients:
        client.join(seconds + 60)
    elapsed = time.monotonic() - started
    all_tasks = [t for c in clients for t in c.tasks]
    return {
        "next": [s for c in clients for s in c.next_s],
        "submit": [s for c in clients for s in c.submit_s],
        "cycles_per_s": sum(c.cycles for c in clients) / elapsed,
        "double_assignments": len(all_tasks) - len(set(all_tasks)),
        "errors_5xx": sum(c.errors for c in clients),
    }


def double_assignments_in_db() -> int:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        return conn.execute(
            """SELECT count(*) FROM (SELECT task_id FROM labeling_assignment
                   WHERE state IN ('active', 'submitted') GROUP BY task_id HAVING count(*) > 1) d"""
        ).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--labelers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--think", type=float, default=1.0, help="mean think time (s) at realistic load")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="gunicorn workers (one per core)")
    parser.add_argument(
        "--orders",
        default="arrival",
        help="queue orders to measure, comma-separated: arrival, uncertainty (every task scored, most "
        "uncertain first). With both, a project each, their phases alternating, and the ratio printed",
    )
    args = parser.parse_args()

    with scratch_database("coach_bench_queue") as url:
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings")
        started = time.monotonic()
        orders = [o.strip() for o in args.orders.split(",")]
        if not orders or set(orders) - {"arrival", "uncertainty"}:
            parser.error("--orders takes arrival and/or uncertainty")
        projects, tokens = seed_orders(args.tasks, 9, args.labelers, orders)
        seed_s = time.monotonic() - started
        env = dict(os.environ, DB_CONN_MAX_AGE="600")
        runs: dict[str, dict[str, list[dict]]] = {o: {"capacity": [], "realistic": []} for o in orders}
        with gunicorn(env, workers=args.workers) as base:
            for think, key in ((0, "capacity"), (args.think, "realistic")):
                for _ in range(args.repeats):
                    for order in orders:  # alternating, so both orders see the same machine
                        runs[order][key].append(phase(base, projects[order], tokens, args.seconds, think))
        db_doubles = double_assignments_in_db()
        capacity, realistic = runs[orders[0]]["capacity"], runs[orders[0]]["realistic"]

    def median_of(runs: list[dict], key: str, stat: str) -> dict:
        values = [summary_ms(run[key])[stat] for run in runs]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    real = {
        f"{op}_{stat}_ms": median_of(realistic, op, stat)
        for op in ("next", "submit")
        for stat in ("p50", "p95", "p99")
    }
    cap = [run["cycles_per_s"] for run in capacity]
    result = {
        "tasks": args.tasks,
        "k": 9,
        "queue_order": orders[0],
        "labelers": args.labelers,
        "seed_seconds": round(seed_s, 1),
        "capacity_cycles_per_s": {
            "median": round(statistics.median(cap), 1),
            "min": round(min(cap), 1),
            "max": round(max(cap), 1),
        },
        "capacity_next_p50_ms": median_of(capacity, "next", "p50"),
        "capacity_next_p99_ms": median_of(capacity, "next", "p99"),
        "realistic_think_s": args.think,
        "realistic_cycles_per_s": round(statistics.median(r["cycles_per_s"] for r in realistic), 1),
        **{f"realistic_{key}": value for key, value in real.items()},
        "double_assignments": sum(
            r["double_assignments"] for o in orders for r in runs[o]["capacity"] + runs[o]["realistic"]
        )
        + db_doubles,
        "errors_5xx": sum(
            r["errors_5xx"] for o in orders for r in runs[o]["capacity"] + runs[o]["realistic"]
        ),
        "labelstudio_next_p50_ms": "47-66",
        "next_p50_speedup_vs_labelstudio": round(47 / real["next_p50_ms"]["median"], 1),
    }
    if len(orders) > 1:  # the second order against the first, measured in the same runs
        other = {
            f"{op}_{stat}_ms": median_of(runs[orders[1]]["realistic"], op, stat)
            for op in ("next", "submit")
            for stat in ("p50", "p95", "p99")
        }
        result[f"{orders[1]}_realistic"] = other
        result[f"next_p50_ratio_{orders[1]}_vs_{orders[0]}"] = round(
            other["next_p50_ms"]["median"] / real["next_p50_ms"]["median"], 2
        )
    for key, value in result.items():
        print(f"{key}: {value}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
