"""Coach and Label Studio side by side, both on Postgres, on the same ranking workload.

Workload (the same for both): import 20,000 K=9 ranking tasks (~500-character answers) over each
platform's import API in batches; 16 annotators each doing next -> submit for a fixed number of tasks
(think time between the two, repeated); then every remaining task is completed in the database by the
same rule on both sides (a ranking of the answers in order) and the full set is exported: Label Studio's
JSON export API, Coach's snapshot_freeze + export_rm --mode kwise, repeated. Memory is the peak RSS of
the server's process tree sampled from /proc during each phase (Coach's export commands: wait4).
Label Studio runs as `label-studio start` (its pip install's server) with its default task sampling;
Coach runs under gunicorn. Prints each figure for both, the ratios, and one JSON line last.

    python bench/vs_labelstudio.py [--tasks 20000] [--annotators 16] [--per-annotator 25] [--think 2]
        [--repeats 3] [--batch 1000] [--workers 2]
"""

import sys
from pathlib import Path

# bench/queue.py shadows the standard library's `queue`: put the repository root first instead of bench/.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402

from bench._labelstudio import LabelStudioServer, create_annotators, label_studio_on_postgres  # noqa: E402
from bench._stack import gunicorn, scratch_database, server_url, summary_ms  # noqa: E402
from bench.export import answer_pool, manage, run_measured, spread  # noqa: E402

K = 9
COACH_DB = "coach_bench_vs_ls"
LABELSTUDIO_DB = "coach_bench_vs_ls_labelstudio"
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- the workload ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingTask:
    external_id: str
    prompt: str
    answers: list[str]


def workload(count: int) -> list[RankingTask]:
    pool = answer_pool()
    return [
        RankingTask(
            external_id=f"q{i}",
            prompt=f"Question {i}: {pool[i % len(pool)][:120]}?",
            answers=[f"[{j}] {pool[(i * K + j) % len(pool)]}" for j in range(K)],
        )
        for i in range(count)
    ]


def batches(tasks: list[RankingTask], size: int) -> Iterator[list[RankingTask]]:
    for start in range(0, len(tasks), size):
        yield tasks[start : start + size]


# --- memory of a server's process tree ------------------------------------------------------------


def tree_rss_bytes(root: int) -> int:
    """Resident memory of a process and all its descendants (shared pages count once per process)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(parents.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


class RssSampler(threading.Thread):
    """Samples a process tree's RSS every `interval` seconds; `window()` gives the peak over a phase."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.peak = max(self.peak, tree_rss_bytes(self.root))

    @contextmanager
    def window(self, into: dict[str, Any], key: str = "peak_rss_mb") -> Iterator[None]:
        self.peak = tree_rss_bytes(self.root)
        yield
        self.peak = max(self.peak, tree_rss_bytes(self.root))
        into[key] = max(into.get(key, 0), round(self.peak / 2**20, 1))

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


@contextmanager
def sampling(root: int) -> Iterator[RssSampler]:
    sampler = RssSampler(root)
    sampler.start()
    try:
        yield sampler
    finally:
        sampler.stop()


def child_pid(name: str) -> int:
    """The pid of this process's child whose command line mentions `name`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and name.encode() in cmdline:
            return int(entry)
    raise RuntimeError(f"no child process running {name}")


# --- HTTP -----------------------------------------------------------------------------------------


def call(
    base: str,
    method: str,
    path: str,
    token: str,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, bytes, float]:
    """One request on a fresh connection (the same for both servers); returns status, body, seconds."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    headers = {"Authorization": f"Token {token}", "Content-Type": content_type}
    try:
        started = time.perf_counter()
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - started
    finally:
        conn.close()


def expect(status: int, data: bytes, what: str, ok: tuple[int, ...] = (200, 201)) -> Any:
    if status not in ok:
        raise RuntimeError(f"{what}: HTTP {status} {data[:1000]!r}")
    return json.loads(data) if data else None


def multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def jsonl(rows: Iterator[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


# --- annotators -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    task_id: int
    submit_path: str
    submit_body: dict[str, Any]


@dataclass(frozen=True)
class Platform:
    """How one platform serves the next task and takes a ranking."""

    name: str
    base: str
    next_method: str
    next_path: str
    no_task_status: int
    parse_next: Callable[[dict[str, Any]], Claimed]


@dataclass
class AnnotatorLog:
    next_s: list[float] = field(default_factory=list)
    submit_s: list[float] = field(default_factory=list)
    served: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Annotator(threading.Thread):
    def __init__(
        self, platform: Platform, token: str, tasks: int, think: float, seed: int, deadline: float
    ) -> None:
        super().__init__(daemon=True)
        self.platform, self.token, self.tasks, self.think, self.deadline = (
            platform,
            token,
            tasks,
            think,
            deadline,
        )
        self.random = random.Random(seed)
        self.log = AnnotatorLog()

    def run(self) -> None:
        p = self.platform
        try:
            for _ in range(self.tasks):
                if time.monotonic() > self.deadline:
                    self.log.errors.append("deadline")
                    return
                status, data, seconds = call(p.base, p.next_method, p.next_path, self.token)
                if status == p.no_task_status:
                    return
                claimed = p.parse_next(expect(status, data, f"{p.name} next"))
                self.log.next_s.append(seconds)
                self.log.served.append(claimed.task_id)
                if self.think:
                    time.sleep(self.random.uniform(0.5, 1.5) * self.think)
                body = json.dumps(claimed.submit_body).encode()
                status, data, seconds = call(p.base, "POST", claimed.submit_path, self.token, body)
                expect(status, data, f"{p.name} submit")
                self.log.submit_s.append(seconds)
        except Exception as exc:  # a failed annotator is reported, not fatal to the run
            self.log.errors.append(f"{type(exc).__name__}: {exc}"[:500])


def annotate(platform: Platform, tokens: list[str], tasks: int, think: float, seed: int) -> dict[str, Any]:
    """All annotators at once, each doing next -> submit `tasks` times; one repeat."""
    deadline = time.monotonic() + max(120.0, tasks * (think * 1.5 + 10))
    annotators = [
        Annotator(platform, t, tasks, think, seed * 1000 + n, deadline) for n, t in enumerate(tokens)
    ]
    started = time.monotonic()
    for a in annotators:
        a.start()
    for a in annotators:
        a.join(max(1.0, deadline - time.monotonic() + 30))
    elapsed = time.monotonic() - started
    served_to: dict[int, set[int]] = {}
    for n, a in enumerate(annotators):
        for task_id in a.log.served:
            served_to.setdefault(task_id, set()).add(n)
    return {
        "next": [s for a in annotators for s in a.log.next_s],
        "submit": [s for a in annotators for s in a.log.submit_s],
        "served_to": served_to,
        "cycles_per_s": sum(len(a.log.submit_s) for a in annotators) / elapsed,
        "errors": [e for a in annotators for e in a.log.errors],
    }


def annotation_rounds(
    platform: Platform, tokens: list[str], tasks: int, think: float, repeats: int, sampler: RssSampler
) -> dict[str, Any]:
    runs, served_to, memory = [], {}, {}
    for r in range(repeats):
        with sampler.window(memory):
            run = annotate(platform, tokens, tasks, think, r)
        runs.append(run)
        for task_id, who in run["served_to"].items():
            served_to.setdefault(task_id, set()).update(who)
        print(
            f"{platform.name} annotate {r + 1}/{repeats}: next p50 {summary_ms(run['next'])['p50']} ms, "
            f"{run['cycles_per_s']:.1f} cycles/s, errors {len(run['errors'])}",
            file=sys.stderr,
        )

    def stat(key: str, which: str) -> dict[str, float]:
        return spread([summary_ms(run[key])[which] for run in runs])

    errors = [e for run in runs for e in run["errors"]]
    return {
        "next_p50_ms": stat("next", "p50"),
        "next_p95_ms": stat("next", "p95"),
        "submit_p50_ms": stat("submit", "p50"),
        "submit_p95_ms": stat("submit", "p95"),
        "cycles_per_s": spread([run["cycles_per_s"] for run in runs]),
        "submitted": sum(len(run["submit"]) for run in runs),
        "tasks_served_to_two_or_more": sum(len(who) > 1 for who in served_to.values()),
        "errors": len(errors),
        "first_errors": errors[:3],
        "peak_rss_mb": memory["peak_rss_mb"],
    }


# --- Coach ----------------------------------------------------------------------------------------


def coach_setup(annotators: int) -> dict[str, Any]:
    """Schema, an admin with a token, an empty K=9 ranking project, labelers who read its guideline."""
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
    project = project_create(
        name="vs label studio", task_kinds=["ranking"], k=K, overlap=1, lease_seconds=3600, created_by=admin
    )
    version = guideline_publish(
        guideline=project.guideline, author=admin, body="Rank by helpfulness.", change_note="First version"
    )
    tokens = []
    for n in range(annotators):
        user = User.objects.create_user(f"annotator{n}")
        membership_set(project=project, user=user, role="labeler")
        guideline_acknowledge(user=user, version=version)
        tokens.append(api_token_issue(user=user, name="bench")[1])
    admin_token = api_token_issue(user=admin, name="bench")[1]
    connection.close()
    return {"project": project.pk, "admin_token": admin_token, "tokens": tokens, "version": version.pk}


def coach_import(base: str, project: int, token: str, tasks: list[RankingTask], batch: int) -> None:
    for chunk in batches(tasks, batch):
        prompts = jsonl({"external_id": t.external_id, "prompt": t.prompt} for t in chunk)
        candidates = jsonl(
            {"prompt_external_id": t.external_id, "text": text, "model": "bench", "sample_index": j}
            for t in chunk
            for j, text in enumerate(t.answers)
        )
        for which, content in (("prompts", prompts), ("candidates", candidates)):
            body, content_type = multipart(f"{which}.jsonl", content)
            status, data, _ = call(
                base, "POST", f"/api/projects/{project}/import/{which}/", token, body, content_type
            )
            expect(status, data, f"Coach import of {which}")


def coach_platform(base: str, project: int) -> Platform:
    def parse_next(assignment: dict[str, Any]) -> Claimed:
        tiers = [[c["id"]] for c in assignment["candidates"]]
        return Claimed(
            assignment["task"]["id"], f"/api/assignments/{assignment['id']}/submit/", {"tiers": tiers}
        )

    return Platform("coach", base, "POST", f"/api/projects/{project}/next/", 204, parse_next)


def coach_complete_the_rest(url: str, project: int, version: int) -> int:
    """Every still-open task gets a submitted ranking (answers in order), spread over the annotators."""
    with psycopg.connect(url, cursor_factory=psycopg.ClientCursor) as conn:  # several statements at once
        labelers = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM auth_user WHERE username LIKE 'annotator%%' ORDER BY id"
            ).fetchall()
        ]
        conn.execute(
            """CREATE TEMP TABLE filled AS
                   SELECT id AS task_id, candidate_ids,
                       (%(labelers)s::bigint[])[1 + (row_number() OVER (ORDER BY id)) %% %(n)s] AS labeler_id
                   FROM labeling_task t
                   WHERE project_id = %(p)s AND status = 'open'
                       AND NOT EXISTS (SELECT 1 FROM labeling_assignment a WHERE a.task_id = t.id);
               INSERT INTO labeling_assignment (task_id, labeler_id, state, leased_at, lease_expires_at,
                   submitted_at, skip_reason)
               SELECT task_id, labeler_id, 'submitted', now(), now(), now(), '' FROM filled;
               INSERT INTO labeling_ranking (assignment_id, task_id, author_id, guideline_version_id,
                   revision, is_current, seconds, created_at, tiers, all_bad)
               SELECT a.id, a.task_id, a.labeler_id, %(v)s, 1, true, 60, now(),
                   (SELECT jsonb_agg(jsonb_build_array(c) ORDER BY o) FROM unnest(f.candidate_ids)
                       WITH ORDINALITY u(c, o)), false
               FROM labeling_assignment a JOIN filled f ON f.task_id = a.task_id;
               UPDATE labeling_task SET status = 'done', claimed_count = 1, completed_count = 1
               WHERE id IN (SELECT task_id FROM filled);
               ANALYZE;""",
            {"p": project, "labelers": labelers, "n": len(labelers), "v": version},
        )
        filled = conn.execute("SELECT count(*) FROM filled").fetchone()[0]
        doubles = conn.execute(
            """SELECT count(*) FROM (SELECT task_id FROM labeling_assignment a JOIN labeling_task t
                   ON t.id = a.task_id WHERE t.project_id = %s AND a.state IN ('active', 'submitted')
                   GROUP BY task_id HAVING count(*) > 1) d""",
            [project],
        ).fetchone()[0]
    if doubles:
        raise RuntimeError(f"Coach holds {doubles} tasks with two live assignments")
    return filled


def coach_export(env: dict[str, str], project: int, out_dir: Path, repeat: int) -> dict[str, float]:
    """Freeze everything submitted, then write the K-wise reward-model file; both as commands."""
    name = f"vs-label-studio-{repeat}"
    freeze_s, freeze_rss, out = run_measured(
        manage(
            "snapshot_freeze",
            "--project",
            str(project),
            "--name",
            name,
            "--verdict",
            "unreviewed_allowed",
            "--validation-fraction",
            "0",
            "--no-progress",
        ),
        env,
    )
    snapshot = json.loads(out.strip().splitlines()[-1])["id"]
    path = out_dir / f"{name}.jsonl"
    export_s, export_rss, out = run_measured(
        manage(
            "export_rm", "--snapshot", str(snapshot), "--out", str(path), "--mode", "kwise", "--no-progress"
        ),
        env,
    )
    records = json.loads(out.strip().splitlines()[-1])["records"]
    size = path.stat().st_size
    path.unlink()
    return {
        "seconds": freeze_s + export_s,
        "freeze_s": freeze_s,
        "export_s": export_s,
        "peak_rss_mb": round(max(freeze_rss, export_rss), 1),
        "records": records,
        "mb": size / 2**20,
    }


def run_coach(args: argparse.Namespace, tasks: list[RankingTask], out_dir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    server = server_url()
    with scratch_database(COACH_DB) as url:
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings")
        env = dict(os.environ, COACH_DATA_ROOT=str(out_dir / "coach-data"), DB_CONN_MAX_AGE="600")
        setup = coach_setup(args.annotators)
        with gunicorn(env | {"GUNICORN_CMD_ARGS": "--timeout 600"}, workers=args.workers) as base:
            with sampling(child_pid("gunicorn")) as sampler:
                memory: dict[str, Any] = {}
                started = time.monotonic()
                with sampler.window(memory):
                    coach_import(base, setup["project"], setup["admin_token"], tasks, args.batch)
                result["import_s"] = round(time.monotonic() - started, 2)
                result["import_peak_rss_mb"] = memory["peak_rss_mb"]
                with psycopg.connect(url) as conn:
                    result["tasks"] = conn.execute(
                        "SELECT count(*) FROM labeling_task WHERE project_id = %s", [setup["project"]]
                    ).fetchone()[0]
                print(f"coach import: {result}", file=sys.stderr)
                platform = coach_platform(base, setup["project"])
                result["annotate"] = annotation_rounds(
                    platform, setup["tokens"], args.per_annotator, args.think, args.repeats, sampler
                )
        coach_complete_the_rest(url, setup["project"], setup["version"])
        exports = [coach_export(env, setup["project"], out_dir, r) for r in range(args.repeats)]
        os.environ["DATABASE_URL"] = server  # Label Studio's databases live on the same server
    result["export"] = summarize_exports(exports)
    print(f"coach: {result}", file=sys.stderr)
    return result


# --- Label Studio ---------------------------------------------------------------------------------


def labelstudio_project(server: LabelStudioServer) -> int:
    from trainer_bridge.labelstudio import RANKING_CONFIG

    body = json.dumps({"title": "vs coach", "label_config": RANKING_CONFIG}).encode()
    status, data, _ = call(server.url, "POST", "/api/projects", server.token, body)
    return expect(status, data, "Label Studio project")["id"]


def labelstudio_task(task: RankingTask) -> dict[str, Any]:
    """The same task in the shape the trainer bridge pushes (trainer_bridge.labelstudio.ls_task)."""
    from trainer_bridge.labelstudio import ANSWERS, PROMPT

    answers = [
        {"id": f"{task.external_id}-{j}", "title": f"Answer {j + 1}", "body": text}
        for j, text in enumerate(task.answers)
    ]
    return {
        "data": {
            "coach_prompt": task.external_id,
            PROMPT: [{"role": "user", "content": task.prompt}],
            ANSWERS: answers,
        }
    }


def labelstudio_import(server: LabelStudioServer, project: int, tasks: list[RankingTask], batch: int) -> None:
    for chunk in batches(tasks, batch):
        body = json.dumps([labelstudio_task(t) for t in chunk]).encode()
        status, data, _ = call(server.url, "POST", f"/api/projects/{project}/import", server.token, body)
        expect(status, data, "Label Studio import")


def labelstudio_platform(base: str, project: int) -> Platform:
    from trainer_bridge.labelstudio import ANSWERS, RANKER

    def parse_next(task: dict[str, Any]) -> Claimed:
        order = [answer["id"] for answer in task["data"][ANSWERS]]
        result = [
            {"from_name": RANKER, "to_name": ANSWERS, "type": "ranker", "value": {"ranker": {RANKER: order}}}
        ]
        return Claimed(
            task["id"], f"/api/tasks/{task['id']}/annotations/", {"result": result, "lead_time": 60.0}
        )

    return Platform("label_studio", base, "GET", f"/api/projects/{project}/next", 404, parse_next)


def labelstudio_complete_the_rest(database: str, project: int) -> int:
    """Every unlabeled task gets one annotation ranking its answers in order, copied from a real one."""
    from trainer_bridge.labelstudio import ANSWERS, RANKER

    prefix, _, _ = server_url().rpartition("/")
    with psycopg.connect(f"{prefix}/{database}") as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'task_completion' "
                "AND column_name NOT IN ('id', 'task_id', 'result', 'unique_id', 'created_at', 'updated_at')"
            ).fetchall()
        ]
        unique_type = conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'task_completion' AND column_name = 'unique_id'"
        ).fetchone()
        unique = (
            "gen_random_uuid()" if unique_type and unique_type[0] == "uuid" else "gen_random_uuid()::text"
        )
        copied = ", ".join(f'a."{c}"' for c in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        cursor = conn.execute(
            f"""INSERT INTO task_completion ({names}, task_id, result, unique_id, created_at, updated_at)
                SELECT {copied}, t.id,
                    jsonb_build_array(jsonb_build_object(
                        'from_name', %(ranker)s::text, 'to_name', %(answers)s::text, 'type', 'ranker',
                        'value', jsonb_build_object('ranker', jsonb_build_object(%(ranker)s::text,
                            (SELECT jsonb_agg(x -> 'id')
                             FROM jsonb_array_elements(t.data -> %(answers)s::text) x))))),
                    {unique}, now(), now()
                FROM task t,
                    (SELECT * FROM task_completion WHERE project_id = %(p)s ORDER BY id LIMIT 1) a
                WHERE t.project_id = %(p)s
                    AND NOT EXISTS (SELECT 1 FROM task_completion c WHERE c.task_id = t.id)""",
            {"p": project, "ranker": RANKER, "answers": ANSWERS},
        )
        filled = cursor.rowcount
        conn.execute(
            """UPDATE task SET is_labeled = true,
                   total_annotations = (SELECT count(*) FROM task_completion c WHERE c.task_id = task.id)
               WHERE project_id = %s""",
            [project],
        )
        conn.execute("ANALYZE")
    return filled


def labelstudio_export(server: LabelStudioServer, project: int, sampler: RssSampler) -> dict[str, float]:
    memory: dict[str, Any] = {}
    with sampler.window(memory):
        status, data, seconds = call(
            server.url,
            "GET",
            f"/api/projects/{project}/export?exportType=JSON&download_all_tasks=true",
            server.token,
        )
    exported = expect(status, data, "Label Studio export")
    return {
        "seconds": seconds,
        "peak_rss_mb": memory["peak_rss_mb"],
        "records": len(exported),
        "annotations": sum(len(t.get("annotations") or []) for t in exported),
        "mb": len(data) / 2**20,
    }


def run_labelstudio(args: argparse.Namespace, tasks: list[RankingTask], out_dir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    started = time.monotonic()
    with label_studio_on_postgres(LABELSTUDIO_DB, out_dir) as server:
        result["setup_s"] = round(time.monotonic() - started, 1)
        project = labelstudio_project(server)
        tokens = create_annotators(server, args.annotators)
        with sampling(server.pid) as sampler:
            memory: dict[str, Any] = {}
            started = time.monotonic()
            with sampler.window(memory):
                labelstudio_import(server, project, tasks, args.batch)
            result["import_s"] = round(time.monotonic() - started, 2)
            result["import_peak_rss_mb"] = memory["peak_rss_mb"]
            print(f"label studio import: {result}", file=sys.stderr)
            platform = labelstudio_platform(server.url, project)
            result["annotate"] = annotation_rounds(
                platform, tokens, args.per_annotator, args.think, args.repeats, sampler
            )
            result["completed_in_db"] = labelstudio_complete_the_rest(LABELSTUDIO_DB, project)
            exports = [labelstudio_export(server, project, sampler) for _ in range(args.repeats)]
    result["export"] = summarize_exports(exports)
    print(f"label studio: {result}", file=sys.stderr)
    return result


# --- report ---------------------------------------------------------------------------------------


def summarize_exports(exports: list[dict[str, float]]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        key: spread([e[key] for e in exports]) for key in exports[0] if key not in ("records", "annotations")
    }
    summary["records"] = exports[-1]["records"]
    if "annotations" in exports[-1]:
        summary["annotations"] = exports[-1]["annotations"]
    summary["peak_rss_mb"] = max(e["peak_rss_mb"] for e in exports)
    return summary


def ratio(slow: float, fast: float) -> float | None:
    return round(slow / fast, 1) if fast else None


def report(args: argparse.Namespace, coach: dict[str, Any], ls: dict[str, Any]) -> dict[str, Any]:
    c, s = coach["annotate"], ls["annotate"]
    figures = {
        "import_s": (coach["import_s"], ls["import_s"]),
        "next_p50_ms": (c["next_p50_ms"]["median"], s["next_p50_ms"]["median"]),
        "next_p95_ms": (c["next_p95_ms"]["median"], s["next_p95_ms"]["median"]),
        "submit_p50_ms": (c["submit_p50_ms"]["median"], s["submit_p50_ms"]["median"]),
        "submit_p95_ms": (c["submit_p95_ms"]["median"], s["submit_p95_ms"]["median"]),
        "export_s": (coach["export"]["seconds"]["median"], ls["export"]["seconds"]["median"]),
        "export_peak_rss_mb": (coach["export"]["peak_rss_mb"], ls["export"]["peak_rss_mb"]),
        "serving_peak_rss_mb": (c["peak_rss_mb"], s["peak_rss_mb"]),
        "import_peak_rss_mb": (coach["import_peak_rss_mb"], ls["import_peak_rss_mb"]),
    }
    for name, (ours, theirs) in figures.items():
        print(
            f"{name:>22}: coach {ours:>9} | label studio {theirs:>9} | x{ratio(theirs, ours)}",
            file=sys.stderr,
        )
    return {
        "tasks": args.tasks,
        "k": K,
        "annotators": args.annotators,
        "tasks_per_annotator": args.per_annotator,
        "think_s": args.think,
        "repeats": args.repeats,
        "database": "postgresql (both)",
        **{f"coach_{name}": ours for name, (ours, _) in figures.items()},
        **{f"labelstudio_{name}": theirs for name, (_, theirs) in figures.items()},
        "coach_double_assignments": c["tasks_served_to_two_or_more"],
        "labelstudio_double_assignments": s["tasks_served_to_two_or_more"],
        "coach_errors": c["errors"],
        "labelstudio_errors": s["errors"],
        "coach_cycles_per_s": c["cycles_per_s"]["median"],
        "labelstudio_cycles_per_s": s["cycles_per_s"]["median"],
        "coach_export_records": coach["export"]["records"],
        "labelstudio_export_records": ls["export"]["records"],
        "coach_export_mb": coach["export"]["mb"]["median"],
        "labelstudio_export_mb": ls["export"]["mb"]["median"],
        "speedup_import": ratio(ls["import_s"], coach["import_s"]),
        "speedup_next_p50": ratio(s["next_p50_ms"]["median"], c["next_p50_ms"]["median"]),
        "speedup_submit_p50": ratio(s["submit_p50_ms"]["median"], c["submit_p50_ms"]["median"]),
        "speedup_export": ratio(ls["export"]["seconds"]["median"], coach["export"]["seconds"]["median"]),
        "export_memory_ratio": ratio(ls["export"]["peak_rss_mb"], coach["export"]["peak_rss_mb"]),
        "serving_memory_ratio": ratio(s["peak_rss_mb"], c["peak_rss_mb"]),
        "coach": coach,
        "labelstudio": ls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--annotators", type=int, default=16)
    parser.add_argument("--per-annotator", type=int, default=25, help="next -> submit cycles per annotator")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds between next and submit")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000, help="tasks per import request, on both sides")
    parser.add_argument("--workers", type=int, default=2, help="Coach gunicorn workers")
    args = parser.parse_args()
    if args.annotators * args.per_annotator * args.repeats > args.tasks:
        parser.error("annotators x per-annotator x repeats must not exceed --tasks")

    tasks = workload(args.tasks)
    out_dir = Path(tempfile.mkdtemp(prefix="coach-bench-vs-ls-"))
    try:
        coach = run_coach(args, tasks, out_dir)
        ls = run_labelstudio(args, tasks, out_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    print(json.dumps(report(args, coach, ls)))


if __name__ == "__main__":
    main()
