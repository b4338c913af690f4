from django.test import Client


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
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content


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
