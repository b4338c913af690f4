"""Named API tokens: issued for a password, shown once, stored as a hash, revoked, expired, ended by a new
password; the API tokens page."""

import hashlib
import secrets
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import ApiToken
from accounts.services import api_token_issue

pytestmark = pytest.mark.django_db


def issue(username: str, password: str | None = None, **fields: object) -> dict:
    response = Client().post(
        "/api/auth/token/",
        {"username": username, "password": password or "pw-" + username, **fields},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def as_token(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def test_an_issued_token_works_and_is_listed_by_name_without_its_key(make_user):
    make_user("lea")
    issued = issue("lea", name="nightly export on gpu-3", expires_in_days=30)
    assert issued["token"].startswith("coach_") and issued["name"] == "nightly export on gpu-3"
    assert as_token(issued["token"]).get("/api/projects/").status_code == 200

    listed = as_token(issued["token"]).get("/api/auth/tokens/")
    assert listed.status_code == 200
    [row] = listed.json()
    assert row["name"] == "nightly export on gpu-3" and row["status"] == "active"
    assert row["created_at"] and row["last_used_at"] and row["expires_at"]
    assert issued["token"] not in listed.content.decode()


def test_issuing_twice_gives_two_different_keys_that_both_work(make_user):
    make_user("lea")
    first, second = issue("lea"), issue("lea", name="laptop")
    assert first["token"] != second["token"] and first["name"] == "default"
    for key in (first["token"], second["token"]):
        assert as_token(key).get("/api/projects/").status_code == 200


def test_a_revoked_token_gets_401(make_user):
    make_user("lea")
    keep, drop = issue("lea", name="keep"), issue("lea", name="drop")
    assert as_token(keep["token"]).delete(f"/api/auth/tokens/{drop['id']}/").status_code == 204
    refused = as_token(drop["token"]).get("/api/projects/")
    assert refused.status_code == 401 and refused.json()["detail"] == "this token was revoked"
    assert refused["WWW-Authenticate"] == "Token"
    assert as_token(keep["token"]).get("/api/projects/").status_code == 200
    assert [t["name"] for t in as_token(keep["token"]).get("/api/auth/tokens/").json()] == ["keep"]


def test_an_expired_token_gets_401(make_user):
    make_user("lea")
    issued = issue("lea", expires_in_days=1)
    assert as_token(issued["token"]).get("/api/projects/").status_code == 200
    ApiToken.objects.filter(pk=issued["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = as_token(issued["token"]).get("/api/projects/")
    assert refused.status_code == 401 and refused.json()["detail"] == "this token has expired"


def test_an_unknown_or_malformed_token_gets_401_and_no_header_stays_403(make_user):
    assert as_token("coach_" + "x" * 43).get("/api/projects/").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Token a b").get("/api/projects/").status_code == 401
    assert as_token("k" * 5000).get("/api/projects/").status_code == 401
    assert Client().get("/api/projects/").status_code == 403


def test_a_password_change_ends_every_earlier_token_and_a_new_one_can_be_issued(make_user):
    lea = make_user("lea")
    old = [issue("lea")["token"], issue("lea", name="ci")["token"]]
    lea.set_password("a new password")
    lea.save()
    for key in old:
        refused = as_token(key).get("/api/projects/")
        assert refused.status_code == 401 and "password changed" in refused.json()["detail"]
    assert Client().post("/api/auth/token/", {"username": "lea", "password": "pw-lea"}).status_code == 400
    new = issue("lea", "a new password")["token"]
    assert as_token(new).get("/api/projects/").status_code == 200
    statuses = [t["status"] for t in as_token(new).get("/api/auth/tokens/").json()]
    assert sorted(statuses) == ["active", "password_changed", "password_changed"]


class QuickPBKDF2(PBKDF2PasswordHasher):
    iterations = 10


def test_a_rehash_of_the_unchanged_password_at_login_keeps_the_tokens(make_user, settings):
    lea = make_user("lea")  # hashed with MD5 (tests/conftest.py)
    key = api_token_issue(user=lea, name="ci")[1]
    settings.PASSWORD_HASHERS = [
        "tests.test_api_tokens.QuickPBKDF2",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert Client().post("/login/", {"username": "lea", "password": "pw-lea"}).status_code == 302
    lea.refresh_from_db()
    assert lea.password.startswith("pbkdf2_sha256$10$")  # Django re-hashed it under the preferred hasher
    assert as_token(key).get("/api/projects/").status_code == 200


def test_a_user_cannot_revoke_another_users_token_and_site_staff_can(make_user, admin):
    make_user("lea")
    make_user("otto")
    lea = issue("lea")
    otto = issue("otto")["token"]
    assert as_token(otto).delete(f"/api/auth/tokens/{lea['id']}/").status_code == 404
    assert as_token(otto).get("/api/auth/tokens/?user=lea").status_code == 403
    for nobody in ("nobody", "a\x00b", "n" * 300):
        assert as_token(otto).get("/api/auth/tokens/", {"user": nobody}).status_code == 403
    assert as_token(lea["token"]).get("/api/projects/").status_code == 200

    staff = api_token_issue(user=admin, name="ops")[1]
    for nobody in ("nobody", "a\x00b", "n" * 300):
        missing = as_token(staff).get("/api/auth/tokens/", {"user": nobody})
        assert missing.status_code == 404 and missing.json()["field"] == "user"
    assert [t["id"] for t in as_token(staff).get("/api/auth/tokens/?user=lea").json()] == [lea["id"]]
    assert as_token(staff).delete(f"/api/auth/tokens/{lea['id']}/").status_code == 204
    assert as_token(lea["token"]).get("/api/projects/").status_code == 401
    assert ApiToken.objects.get(pk=lea["id"]).revoked_by == admin
    assert as_token(staff).delete(f"/api/auth/tokens/{lea['id']}/").status_code == 404  # already revoked


def test_the_key_is_never_stored_in_clear(make_user):
    make_user("lea")
    issued = issue("lea", name="ci")
    key = issued["token"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken WHERE id = %s", [issued["id"]])
        [row] = cursor.fetchall()
        columns = [c.name for c in cursor.description]
    assert not any(key in str(value) for value in row)
    stored = dict(zip(columns, row, strict=True))["key_sha256"]
    assert stored == hashlib.sha256(key.encode()).hexdigest()


def refused_field(response) -> str | None:
    """The input a 400 names: a service's refusal names one field, a shape error lists them."""
    body = response.json()
    return body.get("field") or next(iter(body.get("fields", {})), None)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "n" * 101}, "name"),
        ({"name": "tab\tin the name"}, "name"),
        ({"expires_in_days": -1}, "expires_in_days"),
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": 3651}, "expires_in_days"),
        ({"expires_in_days": 10**30}, "expires_in_days"),
        ({"expires_in_days": "soon"}, "expires_in_days"),
        ({"expires_in_days": 1.5}, "expires_in_days"),
        ({"name": ["a", "list"]}, "name"),
    ],
)
def test_a_bad_name_or_expiry_is_refused_with_its_field(make_user, fields, field):
    make_user("lea")
    response = Client().post(
        "/api/auth/token/",
        {"username": "lea", "password": "pw-lea", **fields},
        content_type="application/json",
    )
    assert response.status_code == 400 and refused_field(response) == field
    assert not ApiToken.objects.exists()


def test_a_user_holds_a_bounded_number_of_live_tokens(make_user, monkeypatch):
    lea = make_user("lea")
    monkeypatch.setattr(services, "LIVE_TOKENS_MAX", 2)
    first, _ = api_token_issue(user=lea, name="one")
    api_token_issue(user=lea, name="two")
    refused = Client().post("/api/auth/token/", {"username": "lea", "password": "pw-lea"})
    assert refused.status_code == 409 and "revoke one" in refused.json()["detail"]
    services.api_token_revoke(token_id=first.pk, by=lea)
    issue("lea")


def test_the_token_page_shows_the_key_once_and_escapes_the_name(make_user):
    lea = make_user("lea")
    client = Client()
    client.force_login(lea)
    home = client.get("/")
    assert b'href="/account/tokens/"' in home.content

    created = client.post("/account/tokens/", {"name": "<script>alert(1)</script>", "expires_in_days": "7"})
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    token = ApiToken.objects.get(user=lea)
    key = created.context["created"]["key"]
    assert key.encode() in created.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in created.content
    assert b"<script>alert(1)" not in created.content
    assert as_token(key).get("/api/projects/").status_code == 200

    again = client.get("/account/tokens/")
    assert again.status_code == 200
    assert key.encode() not in again.content and b"&lt;script&gt;alert(1)&lt;/script&gt;" in again.content
    assert token.expires_at is not None and token.expires_at > timezone.now() + timedelta(days=6)


def test_the_token_page_refuses_bad_input_on_its_form(make_user):
    lea = make_user("lea")
    client = Client()
    client.force_login(lea)
    for form, message in (
        ({"name": "ci", "expires_in_days": "-3"}, b"expires_in_days is a number of days from 1 to 3650"),
        ({"name": "ci", "expires_in_days": "soon"}, b"Enter a whole number."),
        ({"name": "n" * 101}, b"at most 100 characters"),
        ({"name": "   "}, b"This field is required."),
    ):
        response = client.post("/account/tokens/", form)
        assert response.status_code == 400 and message in response.content, form
    assert not ApiToken.objects.exists()


def test_a_token_is_revoked_from_the_page_by_its_owner_only(make_user, admin):
    lea, otto = make_user("lea"), make_user("otto")
    token, key = api_token_issue(user=lea, name="ci")
    stranger = Client()
    stranger.force_login(otto)
    assert stranger.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert stranger.get("/account/tokens/?user=lea").status_code == 403

    staff = Client()
    staff.force_login(admin)
    listed = staff.get("/account/tokens/?user=lea")
    assert listed.status_code == 200 and b"API tokens of lea" in listed.content

    owner = Client()
    owner.force_login(lea)
    revoked = owner.post(f"/account/tokens/{token.pk}/revoke/", follow=True)
    assert revoked.status_code == 200 and "Token “ci” revoked" in revoked.content.decode()
    assert as_token(key).get("/api/projects/").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_token_from_before_the_upgrade_keeps_working_as_the_named_token_default(make_user):
    lea = make_user("lea")
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0001_initial")])
    old_apps = executor.loader.project_state(
        [("accounts", "0001_initial"), ("authtoken", "0004_alter_tokenproxy_options")]
    ).apps
    key = secrets.token_hex(20)  # a key as DRF made them
    old_apps.get_model("authtoken", "Token").objects.create(key=key, user_id=lea.pk)

    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0002_tokens_from_drf")])

    moved = ApiToken.objects.get(user=lea)
    assert moved.name == "default" and moved.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0  # the keys in clear are gone
    assert as_token(key).get("/api/projects/").status_code == 200
    lea.set_password("a new password")
    lea.save()
    assert as_token(key).get("/api/projects/").status_code == 401
