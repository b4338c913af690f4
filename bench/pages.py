"""Ranking page, submit and chat page latency in the web UI, against gunicorn + Postgres.

Seeds a scratch database with K=9 ranking tasks (~500-character answers), logs one labeler in through
the login form, then does what the ranking page does: open the assignment page, submit a ranking with
ratings and flags the way the page posts it (HTMX, answered with the next task). Timed per request on
127.0.0.1, so the figures include the loopback round trip.

Then chats, on gunicorn with threaded workers (as `make run` serves /stream/): a tiny model built from
scratch and served by Coach's transformers server; the chat page of a four-turn conversation; Coach's
overhead on a streamed reply (time to its first piece through Coach minus the same asked of the engine
directly, paired, alternating); and the ranking page and submit, alone, while two other labelers stream
replies one after another, and (the control) while the same two streams are asked of the engine directly:
on a machine where the engine shares the web server's cores, the control shows how much of the slowdown
is the engine's. Prints one JSON line last.

    python bench/pages.py [--requests 500] [--repeats 3] [--chat-requests 200] [--first-tokens 30]
"""

import sys
from pathlib import Path

# bench/queue.py shadows the standard library's `queue`: import from the repository root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402

from bench._chat import (  # noqa: E402
    Chat,
    Streamers,
    engine_first_token,
    engine_reply,
    seed_chats,
    served_tiny_model,
)
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


def chat_page(session: requests.Session, url: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        page = session.get(url)
        times.append(time.perf_counter() - start)
        if page.status_code != 200 or "data-chat-form" not in page.text:
            raise RuntimeError(f"the chat page did not open: HTTP {page.status_code}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="page views and submits per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chat-requests", type=int, default=200, help="chat page views per run")
    parser.add_argument("--first-tokens", type=int, default=30, help="paired first-token timings")
    args = parser.parse_args()
    tasks = args.requests * (2 * args.repeats + 2) + 100  # the ranking runs, then the streaming ones
    chatters = ["chat0", "chat1", "chat2"]

    with scratch_database(f"coach_bench_pages_{os.getpid()}") as url:
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings")
        project, _ = seed(tasks, 9, 1)
        username = labeler_with_password()
        env = dict(os.environ, DB_CONN_MAX_AGE="600")
        with gunicorn(env, workers=2) as base:
            session = log_in(base, username)
            run(base, session, project, 20)  # warm-up: templates, connections
            runs = [run(base, session, project, args.requests) for _ in range(args.repeats)]
        with served_tiny_model() as (model_dir, server_url):
            chat_project = seed_chats(
                model_dir=model_dir, server_url=server_url, labelers=chatters, password=PASSWORD
            )
            with gunicorn(env, workers=2, threads=4) as base:
                session = log_in(base, username)
                chats = [Chat.open(base, log_in(base, name), name, chat_project) for name in chatters]
                chat_page(chats[0].session, chats[0].assignment_url, 20)  # warm-up
                page_runs = [
                    chat_page(chats[0].session, chats[0].assignment_url, args.chat_requests)
                    for _ in range(args.repeats)
                ]
                coach, engine = [], []
                for _ in range(3):  # warm-up
                    chats[0].first_token()
                    engine_first_token(server_url)
                for _ in range(args.first_tokens):
                    coach.append(chats[0].first_token()[0])
                    engine.append(engine_first_token(server_url))
                n = max(50, args.requests // 3)
                alone, beside, beside_engine = [], [], []
                replies = direct_replies = 0
                stream_errors: list[str] = []
                for _ in range(args.repeats):  # alternating, so drift on the machine hits all three alike
                    alone.append(run(base, session, project, n))
                    with Streamers([chat.first_token for chat in chats[1:]]) as streamers:
                        beside.append(run(base, session, project, n))
                    # the control: the same two streams asked of the engine directly, not through Coach
                    with Streamers([functools.partial(engine_reply, server_url)] * 2) as direct:
                        beside_engine.append(run(base, session, project, n))
                    replies += streamers.replies
                    direct_replies += direct.replies
                    stream_errors += streamers.errors + direct.errors

    def median_of(key: str, stat: str, of: list[dict] | None = None) -> float:
        return statistics.median(summary_ms(r[key])[stat] for r in (runs if of is None else of))

    overheads = [c - e for c, e in zip(coach, engine, strict=True)]
    page_p50 = statistics.median(summary_ms(r)["p50"] for r in page_runs)
    result = {
        "bench": "pages",
        "k": 9,
        "requests_per_run": args.requests,
        "runs": args.repeats,
        "ranking_page_p50_ms": median_of("page", "p50"),
        "ranking_page_p95_ms": median_of("page", "p95"),
        "submit_p50_ms": median_of("submit", "p50"),
        "submit_p95_ms": median_of("submit", "p95"),
        "non_200": sum(r["errors"][0] for r in [*runs, *alone, *beside, *beside_engine]),
        "chat_page_p50_ms": page_p50,
        "chat_page_p95_ms": statistics.median(summary_ms(r)["p95"] for r in page_runs),
        "chat_first_token_overhead_p50_ms": summary_ms(overheads)["p50"],
        "chat_first_token_coach_p50_ms": summary_ms(coach)["p50"],
        "chat_first_token_engine_p50_ms": summary_ms(engine)["p50"],
        "threaded_ranking_page_p50_ms": median_of("page", "p50", alone),
        "threaded_submit_p50_ms": median_of("submit", "p50", alone),
        "ranking_page_p50_ms_while_2_stream": median_of("page", "p50", beside),
        "submit_p50_ms_while_2_stream": median_of("submit", "p50", beside),
        "ranking_page_ratio_while_2_stream": round(
            median_of("page", "p50", beside) / median_of("page", "p50", alone), 2
        ),
        "ranking_page_p50_ms_while_2_stream_engine_direct": median_of("page", "p50", beside_engine),
        "replies_streamed_meanwhile": replies,
        "replies_streamed_engine_direct": direct_replies,
        "stream_errors": len(stream_errors),
        "target_ranking_page_p50_ms": 30,
        "target_chat_page_p50_ms": 30,
        "target_chat_first_token_overhead_p50_ms": 50,
    }
    for key in ("page", "submit"):
        print(f"{key:>7}: " + " | ".join(json.dumps(summary_ms(r[key])) for r in runs))
    print("   chat: " + " | ".join(json.dumps(summary_ms(r)) for r in page_runs))
    print("  coach first token: " + json.dumps(summary_ms(coach)))
    print(" engine first token: " + json.dumps(summary_ms(engine)))
    for label, measured in (
        ("ranking, alone", alone),
        ("ranking, 2 streaming", beside),
        ("ranking, 2 streaming from the engine directly", beside_engine),
    ):
        print(f"{label}: " + " | ".join(json.dumps(summary_ms(r["page"])) for r in measured))
    if stream_errors:
        print("stream errors: " + "; ".join(stream_errors[:3]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
