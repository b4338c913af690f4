"""Snapshot and export speed and memory at N and 10xN, plus the Label Studio comparison at 20k tasks.

Seeds a scratch database (bulk COPY) with 100,000 accepted ranking tasks (K=9, ~500-character answers,
36 pairs each: 3.6M pairs) and 200,000 accepted demonstrations, spread over 10 labelers. Snapshots
select by labeler: one labeler's work is N (10,000 rankings + 20,000 demonstrations), everyone's is
10xN, two labelers' rankings are the 20,000 tasks Label Studio exported in 27.8 s. Every export runs
as `manage.py export_*` in its own process (peak RSS from wait4), repeated; then the same 20k export
is started over the REST API (gunicorn) and run by a Celery worker. Prints one JSON line last.

    python bench/export.py [--n 10000] [--repeats 3] [--freeze-only]

Each snapshot is frozen `--repeats` times (under fresh names): `seconds` is the median wall time of
`manage.py snapshot_freeze`, `in_process_s` the median of `snapshot_freeze` called in this process.
`--freeze-only` stops after the freezes.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# bench/queue.py shadows the standard library's `queue`: put the repository root first instead of bench/.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._stack import ROOT, gunicorn, scratch_database  # noqa: E402

K = 9
LABELERS = 10
PROJECT = "export bench"
BENCH_BROKER = os.environ.get("COACH_BENCH_BROKER", "redis://127.0.0.1:6379/13")
LABELSTUDIO_EXPORT_20K_S = 27.8  # DESIGN.md: Label Studio 1.23.2, JSON export of 20k K=9 tasks
WORDS = (
    "the a model answer question helpful clear step first then because therefore example result data "
    "user should could would might explain detail short long simple careful honest safe reason fact"
).split()


def answer_pool(size: int = 997) -> list[str]:
    rng = random.Random(0)
    pool = []
    for _ in range(size):
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < 500:
            words.append(rng.choice(WORDS))
        pool.append(" ".join(words).capitalize() + ".")
    return pool


def seed(rankings: int, demonstrations: int) -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import api_token_issue
    from guidelines.services import guideline_publish
    from labeling.services.projects import project_create

    call_command("migrate", verbosity=0)
    User = get_user_model()
    admin = User.objects.create_user("bench-admin", is_staff=True)
    project = project_create(
        name=PROJECT, task_kinds=["ranking", "demonstration"], k=K, overlap=1, created_by=admin
    )
    version = guideline_publish(
        guideline=project.guideline, author=admin, body="Rank by helpfulness.", change_note="First version"
    )
    labelers = [User.objects.create_user(f"bench-l{i}").pk for i in range(LABELERS)]
    pool = answer_pool()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            "COPY labeling_prompt (project_id, messages, source, external_id, content_hash, metadata, "
            "created_at) FROM STDIN"
        ) as copy:
            for i in range(rankings + demonstrations):
                kind = "r" if i < rankings else "d"
                text = f"Bench question {i}: {pool[i % len(pool)][:80]}?"
                messages = json.dumps([{"role": "user", "content": text}])
                copy.write_row((project.pk, messages, "bench", f"{kind}{i}", f"{i:064x}", "{}", "now"))
        raw.execute(
            "SELECT id FROM labeling_prompt WHERE project_id = %s AND external_id LIKE 'r%%' ORDER BY id",
            [project.pk],
        )
        ranking_prompts = [row[0] for row in raw.fetchall()]
        with raw.copy(
            "COPY labeling_candidate (prompt_id, text, model_name, sampling_params, sample_index, "
            "created_at) FROM STDIN"
        ) as copy:
            for n, prompt_id in enumerate(ranking_prompts):
                for j in range(K):
                    copy.write_row(
                        (prompt_id, f"[{j}] {pool[(n * K + j) % len(pool)]}", "bench", "{}", j, "now")
                    )
        raw.execute(
            """INSERT INTO labeling_task (project_id, prompt_id, kind, candidate_ids, status, required_count,
                   claimed_count, completed_count, is_gold, created_at)
               SELECT p.project_id, p.id, 'ranking', array_agg(c.id ORDER BY c.sample_index), 'done', 1, 1, 1,
                   false, now()
               FROM labeling_prompt p JOIN labeling_candidate c ON c.prompt_id = p.id
               WHERE p.project_id = %(p)s GROUP BY p.id ORDER BY p.id;
               INSERT INTO labeling_task (project_id, prompt_id, kind, candidate_ids, status, required_count,
                   claimed_count, completed_count, is_gold, created_at)
               SELECT project_id, id, 'demonstration', '{}', 'done', 1, 1, 1, false, now()
               FROM labeling_prompt WHERE project_id = %(p)s AND external_id LIKE 'd%%' ORDER BY id;
               INSERT INTO labeling_assignment (task_id, labeler_id, state, leased_at, lease_expires_at,
                   submitted_at, skip_reason)
               SELECT id, (%(labelers)s::bigint[])[1 + (row_number() OVER (ORDER BY id)) %% %(n)s],
                   'submitted', now(), now(), now(), ''
               FROM labeling_task WHERE project_id = %(p)s;
               INSERT INTO labeling_ranking (assignment_id, task_id, author_id, guideline_version_id,
                   revision, is_current, seconds, created_at, tiers, all_bad)
               SELECT a.id, a.task_id, a.labeler_id, %(v)s, 1, true, 60, now(),
                   (SELECT jsonb_agg(jsonb_build_array(c) ORDER BY o DESC)
                    FROM unnest(t.candidate_ids) WITH ORDINALITY u(c, o)), false
               FROM labeling_assignment a JOIN labeling_task t ON t.id = a.task_id
               WHERE t.project_id = %(p)s AND t.kind = 'ranking';
               INSERT INTO labeling_demonstration (assignment_id, task_id, author_id, guideline_version_id,
                   revision, is_current, seconds, created_at, messages, tools, pasted_chars)
               SELECT a.id, a.task_id, a.labeler_id, %(v)s, 1, true, 120, now(),
                   p.messages || jsonb_build_array(jsonb_build_object('role', 'assistant', 'content',
                       'Reply ' || p.id || '. ' || repeat('Here is a careful and helpful answer. ', 13))),
                   '[]', 0
               FROM labeling_assignment a JOIN labeling_task t ON t.id = a.task_id
               JOIN labeling_prompt p ON p.id = t.prompt_id
               WHERE t.project_id = %(p)s AND t.kind = 'demonstration';
               INSERT INTO labeling_review (assignment_id, reviewer_id, verdict, reason, created_at)
               SELECT a.id, %(admin)s, 'accept', '', now()
               FROM labeling_assignment a JOIN labeling_task t ON t.id = a.task_id WHERE t.project_id = %(p)s;
               ANALYZE;""",
            {"p": project.pk, "labelers": labelers, "n": LABELERS, "v": version.pk, "admin": admin.pk},
        )
    token = api_token_issue(user=admin, name="bench")[1]
    connection.close()
    return {"project": project.pk, "token": token}


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command; returns (wall seconds, peak RSS in MB of that process, its stdout)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(args)} failed: {err.read().decode()[-2000:]}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


def spread(values: list[float], digits: int = 2) -> dict:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def freeze(env: dict[str, str], name: str, labelers: list[str], kinds: str, repeats: int) -> dict:
    """Freeze the same selection `repeats` times as a command and `repeats` times in this process."""
    from curation.snapshots import snapshot_freeze
    from labeling.models import Project

    walls, peaks, manifest = [], [], {}
    for repeat in range(repeats):
        wall, rss, out = run_measured(
            manage(
                "snapshot_freeze",
                "--project",
                PROJECT,
                "--name",
                name if repeat == 0 else f"{name}-{repeat}",
                "--kinds",
                kinds,
                "--labelers",
                ",".join(labelers),
                "--no-progress",
            ),
            env,
        )
        manifest = manifest or json.loads(out.strip().splitlines()[-1])
        walls.append(wall)
        peaks.append(rss)
    project = Project.objects.get(name=PROJECT)
    in_process = []
    for repeat in range(repeats):
        started = time.monotonic()
        snapshot_freeze(
            project=project, name=f"{name}-in-process-{repeat}", kinds=kinds.split(","), labelers=labelers
        )
        in_process.append(time.monotonic() - started)
    rows = manifest["counts"]["rows"]
    wall = statistics.median(walls)
    return {
        "id": manifest["id"],
        "rows": rows,
        "seconds": round(wall, 2),
        "wall_s": spread(walls),
        "in_process_s": spread(in_process),
        "rows_per_s": round(rows / wall),
        "peak_rss_mb": round(max(peaks), 1),
        "split": manifest["split"],
    }


EXPORTS = {
    "sft_jsonl": ["export_sft"],
    "sft_parquet": ["export_sft", "--format", "parquet"],
    "rm_pairwise_jsonl": ["export_rm", "--margin"],
    "rm_kwise_jsonl": ["export_rm", "--mode", "kwise"],
    "rm_consensus_kwise_jsonl": ["export_rm", "--mode", "kwise", "--by", "consensus"],
    "prompts_jsonl": ["export_prompts"],
}


def export(env: dict[str, str], snapshot: int, which: str, out_dir: Path, repeats: int) -> dict:
    walls, inner, rss = [], [], []
    summary: dict = {}
    for _ in range(repeats):
        path = out_dir / f"{which}-{snapshot}.out"
        wall, peak, out = run_measured(
            manage(
                *EXPORTS[which][:1],
                "--snapshot",
                str(snapshot),
                "--out",
                str(path),
                "--no-progress",
                *EXPORTS[which][1:],
            ),
            env,
        )
        summary = json.loads(out.strip().splitlines()[-1])
        walls.append(wall)
        inner.append(summary["seconds"])
        rss.append(peak)
        path.unlink()
    return {
        "records": summary["records"],
        "snapshot_rows": summary["rows_read"],
        "file_mb": round(summary["bytes"] / 2**20, 1),
        "export_s": spread(inner),
        "wall_s": spread(walls),
        "records_per_s": round(summary["records"] / statistics.median(inner)),
        "peak_rss_mb": round(max(rss), 1),
    }


def api_export(base: str, token: str, snapshot: int, repeats: int, env: dict[str, str]) -> dict:
    """Start the 20k pairwise export over the API, let the Celery worker run it, poll until done."""
    import psycopg

    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    seconds = []
    for _ in range(repeats):
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("DELETE FROM trainer_bridge_exportjob")  # a repeat must not reuse the finished job
        started = time.monotonic()
        body = json.dumps({"kind": "rm", "mode": "pairwise", "margin": True}).encode()
        request = urllib.request.Request(f"{base}/api/snapshots/{snapshot}/exports/", body, headers)
        job = json.load(urllib.request.urlopen(request, timeout=30))
        polls = 0
        while job["status"] not in ("done", "failed"):
            time.sleep(0.1)
            polls += 1
            status = urllib.request.Request(f"{base}/api/exports/{job['id']}/", headers=headers)
            job = json.load(urllib.request.urlopen(status, timeout=30))
            if time.monotonic() - started > 600:
                raise RuntimeError("the API export did not finish in 10 minutes")
        if job["status"] != "done":
            raise RuntimeError(f"the API export failed: {job['error']}")
        seconds.append(time.monotonic() - started)
    return {"records": job["rows_written"], "seconds": spread(seconds), "status_polls_last_run": polls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="ranking tasks at N (10xN are seeded)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--freeze-only", action="store_true", help="stop after the snapshot freezes")
    args = parser.parse_args()
    if args.n % 1000:
        parser.error("--n is a multiple of 1000")
    rankings, demonstrations = 10 * args.n, 20 * args.n
    out_dir = Path(tempfile.mkdtemp(prefix="coach-bench-export-"))

    with scratch_database("coach_bench_export") as url:
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings")
        env = dict(os.environ, COACH_DATA_ROOT=str(out_dir / "data"))
        started = time.monotonic()
        seeded = seed(rankings, demonstrations)
        seed_s = time.monotonic() - started
        print(f"seeded in {seed_s:.0f} s", file=sys.stderr)

        everyone = [f"bench-l{i}" for i in range(LABELERS)]
        snapshots = {
            "N": freeze(env, "N", everyone[:1], "ranking,demonstration", args.repeats),
            "10N": freeze(env, "10N", everyone, "ranking,demonstration", args.repeats),
            "ls20k": freeze(env, "ls20k", everyone[:2], "ranking", args.repeats),
        }
        print(f"snapshots: {snapshots}", file=sys.stderr)
        if args.freeze_only:
            shutil.rmtree(out_dir, ignore_errors=True)
            print(
                json.dumps(
                    {"n_ranking_tasks": args.n, "seed_s": round(seed_s, 1), "snapshot_freeze": snapshots}
                )
            )
            return
        exports: dict = {}
        for which in EXPORTS:
            exports[which] = {}
            for scale in ("N", "10N"):
                exports[which][scale] = export(env, snapshots[scale]["id"], which, out_dir, args.repeats)
                print(f"{which} {scale}: {exports[which][scale]}", file=sys.stderr)
        versus = {
            w: export(env, snapshots["ls20k"]["id"], w, out_dir, args.repeats)
            for w in ("rm_kwise_jsonl", "rm_pairwise_jsonl")
        }
        print(f"20k: {versus}", file=sys.stderr)

        # A broker database of its own, so no other worker on this Redis takes the bench's jobs.
        stack_env = env | {"CELERY_BROKER_URL": BENCH_BROKER, "DB_CONN_MAX_AGE": "600"}
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-c",
                "1",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=stack_env,
        )
        try:
            with gunicorn(stack_env, workers=2) as base:
                api = api_export(base, seeded["token"], snapshots["ls20k"]["id"], args.repeats, env)
        finally:
            worker.terminate()
            _, _, usage = os.wait4(worker.pid, 0)
        api["worker_peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    shutil.rmtree(out_dir, ignore_errors=True)

    peaks = {w: {s: exports[w][s]["peak_rss_mb"] for s in ("N", "10N")} for w in exports}
    kwise_20k = versus["rm_kwise_jsonl"]["wall_s"]["median"]
    pairwise_20k = versus["rm_pairwise_jsonl"]["wall_s"]["median"]
    result = {
        "ranking_tasks": rankings,
        "k": K,
        "demonstrations": demonstrations,
        "pairs": exports["rm_pairwise_jsonl"]["10N"]["records"],
        "n_ranking_tasks": args.n,
        "seed_s": round(seed_s, 1),
        "snapshot_freeze": snapshots,
        "exports": exports,
        "peak_rss_mb_max": max(max(p.values()) for p in peaks.values()),
        "peak_rss_growth_10n_over_n": round(max(p["10N"] / p["N"] for p in peaks.values()), 2),
        "labelstudio_20k_export_s": LABELSTUDIO_EXPORT_20K_S,
        "kwise_20k_wall_s": kwise_20k,
        "pairwise_20k_wall_s": pairwise_20k,
        "speedup_vs_labelstudio_kwise_20k": round(LABELSTUDIO_EXPORT_20K_S / kwise_20k, 1),
        "speedup_vs_labelstudio_pairwise_20k": round(LABELSTUDIO_EXPORT_20K_S / pairwise_20k, 1),
        "api_celery_pairwise_20k": api,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
