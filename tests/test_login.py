import pytest
from django.test import Client, RequestFactory

from config.auth import client_ip

PROXY = "10.0.0.2"  # the reverse proxy every request below comes through


def test_a_labeler_logs_in_and_lands_on_home(make_user):
    make_user("lea")
    client = Client()
    response = client.post("/login/", {"username": "lea", "password": "pw-lea"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_repeated_wrong_passwords_lock_the_login_out(make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_user("lea")
    client = Client()
    statuses = [
        client.post("/login/", {"username": "lea", "password": "wrong"}).status_code for _ in range(3)
    ]
    assert statuses[:2] == [200, 200] and statuses[2] == 429
    locked = client.post("/login/", {"username": "lea", "password": "pw-lea"})
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content


def test_an_api_token_is_issued_for_the_right_password_only(make_user):
    make_user("lea")
    client = Client()
    assert client.post("/api/auth/token/", {"username": "lea", "password": "nope"}).status_code == 400
    token = client.post("/api/auth/token/", {"username": "lea", "password": "pw-lea"}).json()["token"]
    assert Client().get("/api/projects/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_repeated_wrong_passwords_lock_the_api_token_out_too(make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_user("lea")
    client = Client()
    for _ in range(3):
        client.post("/api/auth/token/", {"username": "lea", "password": "wrong"})
    locked = client.post("/api/auth/token/", {"username": "lea", "password": "pw-lea"})
    assert locked.status_code == 429 and locked["Content-Type"] == "application/json"
    assert locked.json() == {
        "error": "locked_out",
        "detail": "Too many failed logins: logging in as this user from here is paused for 15 minutes.",
    }
    assert locked["Retry-After"] == "900"


def test_an_overlong_username_is_refused_as_input(make_user):
    name = "a" * 300
    api = Client().post("/api/auth/token/", {"username": name, "password": "x"})
    assert api.status_code == 400 and "username" in api.json()["fields"]
    page = Client().post("/login/", {"username": name, "password": "x"})
    assert page.status_code == 200 and page.context["form"].errors


def test_a_long_user_agent_or_path_does_not_break_the_failed_login_record(make_user):
    make_user("lea")
    client = Client(HTTP_USER_AGENT="agent " * 200)
    assert client.post("/login/?next=/" + "p" * 600, {"username": "lea", "password": "no"}).status_code == 200
    assert client.post("/api/auth/token/", {"username": "lea", "password": "no"}).status_code == 400


def login_from(client_address: str, password: str, *, forwarded: str | None = None) -> int:
    """A login through the proxy, which appends the client's address to X-Forwarded-For."""
    header = f"{forwarded}, {client_address}" if forwarded else client_address
    return (
        Client()
        .post(
            "/login/",
            {"username": "lea", "password": password},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=header,
        )
        .status_code
    )


def test_behind_a_trusted_proxy_two_clients_are_told_apart(make_user, settings):
    settings.AXES_FAILURE_LIMIT, settings.TRUSTED_PROXY_COUNT = 3, 1
    make_user("lea")
    assert [login_from("203.0.113.5", "wrong") for _ in range(3)] == [200, 200, 429]
    assert login_from("203.0.113.5", "pw-lea") == 429
    assert login_from("198.51.100.7", "pw-lea") == 302  # another person behind the same proxy


def test_a_forwarded_for_header_written_by_the_client_does_not_escape_the_lockout(make_user, settings):
    settings.AXES_FAILURE_LIMIT, settings.TRUSTED_PROXY_COUNT = 3, 1
    make_user("lea")
    statuses = [login_from("203.0.113.5", "wrong", forwarded=f"192.0.2.{n}") for n in range(3)]
    assert statuses == [200, 200, 429]
    assert login_from("203.0.113.5", "pw-lea", forwarded="192.0.2.99") == 429


def test_without_a_trusted_proxy_the_forwarded_for_header_is_ignored(make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3  # COACH_TRUSTED_PROXY_COUNT unset: every request is the proxy's
    make_user("lea")
    assert [login_from(f"203.0.113.{n}", "wrong") for n in range(3)] == [200, 200, 429]
    assert login_from("198.51.100.7", "pw-lea") == 429


@pytest.mark.parametrize(
    ("proxies", "forwarded", "address"),
    [
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "192.0.2.1, 203.0.113.5", "203.0.113.5"),
        (2, "203.0.113.5, 10.0.0.9", "203.0.113.5"),
        (1, " 2001:db8::1 ", "2001:db8::1"),
        (2, "203.0.113.5", PROXY),  # shorter than the proxies: it went round them
        (1, "", PROXY),
        (1, "not-an-address", PROXY),
        (1, "203.0.113.5:4711", PROXY),
        (1, "fe80::1%eth0", PROXY),
        (0, "203.0.113.5", PROXY),
    ],
)
def test_the_client_address_behind_proxies(settings, proxies, forwarded, address):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/login/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == address


def test_an_odd_forwarded_for_header_is_counted_as_the_proxy_and_breaks_nothing(make_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    make_user("lea")
    for header in ("not-an-address", "fe80::1%eth0", "1.2.3.4:80", "x" * 2000):
        assert login_from(header, "wrong") == 200
