"""Does a model draft cost the labeler anything at next-task time? Two projects of demonstration tasks, one
with model drafts off and one with every task drafted; labelers lease a task through the API (the claim and
the payload that carries the draft), open its writing page and submit, against gunicorn + Postgres. The
runs alternate between the projects; prints one JSON line last.

    python bench/model_drafts.py [--tasks 5000] [--labelers 4] [--seconds 8] [--repeats 5]
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._stack import gunicorn, scratch_database, summary_ms  # noqa: E402

DRAFT = "A drafted reply that covers the question in a few plain sentences, as a model would write it. " * 6


def seed(tasks: int, labelers: int) -> tuple[dict[str, int], dict[str, list[tuple[str, str]]]]:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.services import api_token_issue
    from guidelines.services import guideline_acknowledge, guideline_publish
    from labeling.services.model_drafts import reply_draft_settings_set
    from labeling.services.projects import membership_set, project_create
    from registry.models import ModelVersion

    call_command("migrate", verbosity=0)
    User = get_user_model()
    admin = User.objects.create_user("bench-admin", is_staff=True)
    drafter = ModelVersion.objects.create(name="drafter", kind="base", path="/nowhere")
    projects, people = {}, {}
    for name in ("off", "drafted"):
        project = project_create(
            name=f"drafts {name}",
            task_kinds=["demonstration"],
            overlap=1,
            lease_seconds=3600,
            created_by=admin,
        )
        version = guideline_publish(
            guideline=project.guideline, author=admin, body="Write the ideal reply.", change_note="First"
        )
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(
                "COPY labeling_prompt (project_id, messages, source, external_id, content_hash, metadata, "
                "created_at) FROM STDIN"
            ) as copy:
                for i in range(tasks):
                    messages = json.dumps([{"role": "user", "content": f"Question {i}: explain it briefly."}])
                    copy.write_row((project.pk, messages, "bench", f"q{i}", f"{i:064x}", "{}", "now"))
            raw.execute(
                """INSERT INTO labeling_task (project_id, prompt_id, kind, candidate_ids, status,
                       required_count, claimed_count, completed_count, is_gold, created_at)
                   SELECT project_id, id, 'demonstration', '{}', 'open', 1, 0, 0, false, now()
                   FROM labeling_prompt WHERE project_id = %s ORDER BY id""",
                [project.pk],
            )
            if name == "drafted":
                raw.execute(
                    """INSERT INTO labeling_replydraft (prompt_id, model_version_id, text, sampling_params,
                           created_at)
                       SELECT id, %s, %s, '{}', now() FROM labeling_prompt WHERE project_id = %s""",
                    [drafter.pk, DRAFT, project.pk],
                )
            raw.execute("ANALYZE")
        if name == "drafted":
            reply_draft_settings_set(project=project, user=admin, enabled=True, model_version=drafter)
        projects[name] = project.pk
        people[name] = []
        for n in range(labelers):
            user = User.objects.create_user(f"{name}-labeler{n}", password="pw")
            membership_set(project=project, user=user, role="labeler")
            guideline_acknowledge(user=user, version=version)
            client = Client()
            client.force_login(user)
            people[name].append(
                (api_token_issue(user=user, name="bench")[1], client.cookies["sessionid"].value)
            )
    connection.close()
    return projects, people


class Labeler(threading.Thread):
    def __init__(self, base: str, project: int, token: str, session: str, until: float):
        super().__init__(daemon=True)
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        self.api = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.page = {"Cookie": f"sessionid={session}"}
        self.project, self.until = project, until
        self.next_s: list[float] = []
        self.page_s: list[float] = []
        self.drafted = 0
        self.errors = 0

    def call(
        self, method: str, path: str, headers: dict, body: str | None = None
    ) -> tuple[int, bytes, float]:
        start = time.perf_counter()
        self.conn.request(method, path, body, headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - start

    def run(self) -> None:
        while time.monotonic() < self.until:
            status, data, seconds = self.call("POST", f"/api/projects/{self.project}/next/", self.api, "{}")
            if status != 200:
                self.errors += 1
                break
            self.next_s.append(seconds)
            assignment = json.loads(data)
            status, html, seconds = self.call("GET", f"/assignments/{assignment['id']}/", self.page)
            self.errors += status != 200
            self.page_s.append(seconds)
            draft = assignment["model_draft"]
            self.drafted += draft is not None and DRAFT.strip().encode() in html
            body = {"messages": [{"role": "assistant", "content": (draft or {}).get("text") or "A reply."}]}
            if draft:
                body["model_draft"] = draft["id"]
            status, _, _ = self.call(
                "POST", f"/api/assignments/{assignment['id']}/submit/", self.api, json.dumps(body)
            )
            self.errors += status != 201
        self.conn.close()


def phase(base: str, project: int, people: list[tuple[str, str]], seconds: float) -> dict:
    until = time.monotonic() + seconds
    clients = [Labeler(base, project, token, session, until) for token, session in people]
    for client in clients:
        client.start()
    for client in clients:
        client.join(seconds + 60)
    return {
        "next": summary_ms([s for c in clients for s in c.next_s])["p50"],
        "page": summary_ms([s for c in clients for s in c.page_s])["p50"],
        "cycles": sum(len(c.next_s) for c in clients),
        "drafted_pages": sum(c.drafted for c in clients),
        "errors": sum(c.errors for c in clients),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--labelers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="gunicorn workers (one per core)")
    args = parser.parse_args()

    with scratch_database("coach_bench_model_drafts") as url:
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings")
        projects, people = seed(args.tasks, args.labelers)
        env = dict(os.environ, DB_CONN_MAX_AGE="600")
        runs: dict[str, list[dict]] = {"off": [], "drafted": []}
        with gunicorn(env, workers=args.workers) as base:
            for _ in range(args.repeats):
                for name in ("off", "drafted"):  # alternating, so load from outside falls on both alike
                    runs[name].append(phase(base, projects[name], people[name], args.seconds))

    def spread(name: str, key: str) -> dict:
        values = [run[key] for run in runs[name]]
        return {
            "median": round(statistics.median(values), 2),
            "min": round(min(values), 2),
            "max": round(max(values), 2),
        }

    result = {
        "tasks": args.tasks,
        "labelers": args.labelers,
        "repeats": args.repeats,
        "next_p50_ms_drafts_off": spread("off", "next"),
        "next_p50_ms_drafts_on": spread("drafted", "next"),
        "page_p50_ms_drafts_off": spread("off", "page"),
        "page_p50_ms_drafts_on": spread("drafted", "page"),
        "next_p50_ratio_on_vs_off": round(
            statistics.median(run["next"] for run in runs["drafted"])
            / statistics.median(run["next"] for run in runs["off"]),
            3,
        ),
        "page_p50_ratio_on_vs_off": round(
            statistics.median(run["page"] for run in runs["drafted"])
            / statistics.median(run["page"] for run in runs["off"]),
            3,
        ),
        "pages_with_the_draft_pre_filled": sum(run["drafted_pages"] for run in runs["drafted"]),
        "cycles_drafts_on": sum(run["cycles"] for run in runs["drafted"]),
        "errors": sum(run["errors"] for runs_of in runs.values() for run in runs_of),
    }
    for key, value in result.items():
        print(f"{key}: {value}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
