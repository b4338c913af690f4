"""Ranking page and submit latency in the web UI, against gunicorn + Postgres.

Seeds a scratch database with K=9 ranking tasks (~500-character answers), logs one labeler in through
the login form, then does what the ranking page does: open the assignment page, submit a ranking with
ratings and flags the way the page posts it (HTMX, answered with the next task). Timed per request on
127.0.0.1, so the figures include the loopback round trip. Prints one JSON line last.

    python bench/pages.py [--requests 500] [--repeats 3]
"""

import sys
from pathlib import Path

# bench/queue.py shadows the standard library's `queue`: import from the repository root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402

from bench._stack import gunicorn, scratch_database, summary_ms  # noqa: E402
from bench.queue import seed  # noqa: E402

PASSWORD = "bench-password-7"
CANDIDATE_ID = re.compile(r'name="tier-(\d+)"')


def labeler_with_password() -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="labeler0")
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user.username


def log_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/login/").raise_for_status()
    response = session.post(
        f"{base}/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/login/"},
        allow_redirects=False,
    )
    if response.status_code != 302:
        raise RuntimeError(f"login failed: HTTP {response.status_code}")
    return session


def ranking_form(html: str, csrf: str) -> dict[str, str]:
    """Every candidate in its own tier, rated and with one flag, as the page would post it."""
    ids = list(dict.fromkeys(CANDIDATE_ID.findall(html)))
    if len(ids) != 9:
        raise RuntimeError(f"expected 9 candidates on the ranking page, found {len(ids)}")
    form = {"csrfmiddlewaretoken": csrf, "seconds": "42.5"}
    for tier, candidate in enumerate(ids, start=1):
        form[f"tier-{candidate}"] = str(tier)
        form[f"overall-{candidate}"] = str(8 - min(tier, 7))
        form[f"satisfies_constraints-{candidate}"] = "yes"
    form[f"hallucination-{ids[-1]}"] = "on"
    return form


def run(base: str, session: requests.Session, project: int, n: int) -> dict[str, list[float]]:
    csrf = session.cookies["csrftoken"]
    headers = {"X-CSRFToken": csrf, "Referer": base}
    claimed = session.post(f"{base}/projects/{project}/next/", headers=headers, allow_redirects=False)
    url = f"{base}{claimed.headers['Location']}"
    page_s, submit_s, errors = [], [], 0
    for _ in range(n):
        start = time.perf_counter()
        page = session.get(url)
        page_s.append(time.perf_counter() - start)
        errors += page.status_code != 200
        start = time.perf_counter()
        submitted = session.post(
            f"{url}rank/", data=ranking_form(page.text, csrf), headers=headers | {"HX-Request": "true"}
        )
        submit_s.append(time.perf_counter() - start)
        errors += submitted.status_code != 200
        pushed = submitted.headers.get("HX-Push-Url")
        if not pushed or "/assignments/" not in pushed:
            raise RuntimeError(f"submit did not move to the next task: HTTP {submitted.status_code}")
        url = f"{base}{pushed}"
    return {"page": page_s, "submit": submit_s, "errors": [errors]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="page views and submits per run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tasks = args.requests * args.repeats + 50

    with scratch_database("coach_bench_pages") as url:
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings")
        project, _ = seed(tasks, 9, 1)
        username = labeler_with_password()
        env = dict(os.environ, DB_CONN_MAX_AGE="600")
        with gunicorn(env, workers=2) as base:
            session = log_in(base, username)
            run(base, session, project, 20)  # warm-up: templates, connections
            runs = [run(base, session, project, args.requests) for _ in range(args.repeats)]

    def median_of(key: str, stat: str) -> float:
        return statistics.median(summary_ms(r[key])[stat] for r in runs)

    result = {
        "bench": "pages",
        "k": 9,
        "requests_per_run": args.requests,
        "runs": args.repeats,
        "ranking_page_p50_ms": median_of("page", "p50"),
        "ranking_page_p95_ms": median_of("page", "p95"),
        "submit_p50_ms": median_of("submit", "p50"),
        "submit_p95_ms": median_of("submit", "p95"),
        "non_200": sum(r["errors"][0] for r in runs),
        "target_ranking_page_p50_ms": 30,
    }
    for key in ("page", "submit"):
        print(f"{key:>7}: " + " | ".join(json.dumps(summary_ms(r[key])) for r in runs))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
