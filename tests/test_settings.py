import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


def test_production_settings_pass_the_deploy_check():
    # The browser tests allow the sync ORM beside Playwright's event loop; production never does.
    env = dict(
        {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        COACH_PRODUCTION="1",
        SECRET_KEY="x" * 64 + "-production-key-for-the-check",
        ALLOWED_HOSTS="coach.example.org",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"} | {"COACH_PRODUCTION": "1"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_the_openapi_schema_is_served(admin, api):
    response = api(admin).get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/projects/{project_id}/next/" in response.content


PRODUCTION_RESPONSE = """
from django.test import Client
client = Client()
plain = client.get("/login/")
secure = client.get("/login/", secure=True)
cookie = secure.cookies["csrftoken"]
print(plain.status_code, plain["Location"])
for header in ("Strict-Transport-Security", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"):
    print(header, secure[header])
print("csrf cookie secure", bool(cookie["secure"]), "samesite", cookie["samesite"])
from django.conf import settings
print("session cookie", settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY)
"""


def test_production_answers_https_only_with_the_security_headers_and_secure_cookies():
    env = dict(
        os.environ,
        COACH_PRODUCTION="1",
        SECRET_KEY="x" * 64 + "-production-key-for-the-check",
        ALLOWED_HOSTS="testserver",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PRODUCTION_RESPONSE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()[-7:]
    assert lines == [
        "301 https://testserver/login/",
        "Strict-Transport-Security max-age=31536000; includeSubDomains; preload",
        "X-Content-Type-Options nosniff",
        "Referrer-Policy same-origin",
        "X-Frame-Options DENY",
        "csrf cookie secure True samesite Lax",
        "session cookie True True",
    ]


@pytest.mark.django_db
def test_connections_plan_server_side_cursors_for_reading_to_the_end():
    # Snapshots and exports stream whole results through server-side cursors; with Postgres' default
    # fraction (0.1) the snapshot query of one labeler among ten took a quadratic plan (45 s for the
    # first 1,000 rows of 200,000 demonstrations, against 0.3 s planned for the whole result).
    with connection.cursor() as cursor:
        cursor.execute("SHOW cursor_tuple_fraction")
        assert cursor.fetchone()[0] == "1"


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


@pytest.mark.django_db
def test_every_response_carries_a_strict_content_security_policy(admin, client):
    client.force_login(admin)
    for url in ("/login/", "/", "/account/tokens/", "/api/projects/", "/no-such-page/"):
        policy = directives(client.get(url)["Content-Security-Policy"])
        assert policy["script-src"] == "'self'", url
        assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'", url
        assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'", url
    assert "Content-Security-Policy" in Client().get("/api/projects/")  # anonymous, refused: still there


@pytest.mark.django_db
def test_only_the_pages_that_still_hold_inline_script_may_run_it(admin, client, make_project):
    # Reviewed: move a page's inline script into a static file, then drop it from this list.
    assert set(settings.CONTENT_SECURITY_POLICY_PAGES) == {
        "admin:django_celery_beat_periodictask_add",
        "admin:django_celery_beat_periodictask_change",
    }
    project = make_project()
    client.force_login(admin)
    for page in ("exports/", "guideline/", "guideline/diff/0/1/"):
        policy = directives(client.get(f"/projects/{project.pk}/{page}")["Content-Security-Policy"])
        assert policy["script-src"] == "'self'" and policy["object-src"] == "'none'", page
