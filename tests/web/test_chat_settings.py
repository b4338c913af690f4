"""An admin chooses the model version a project's chats talk to, and K, on the settings page."""

from labeling.models import ChatSettings
from tests.factories import register_versions


def test_an_admin_chooses_the_chat_model_and_k_and_a_labeler_may_not(
    make_project, admin, add_member, client_for
):
    project = make_project(name="chats", kinds=["chat"])
    (writer,) = register_versions("writer")
    page = client_for(admin).get(f"/projects/{project.pk}/settings/")
    assert b"data-chat-settings" in page.content and b"writer (base)" in page.content
    fields = {
        "chat-model_version": str(writer.pk),
        "chat-k": "5",
        "chat-max_new_tokens": "64",
        "chat-temperature": "0.7",
        "chat-seconds_limit": "30",
        "chat-calls_per_minute": "10",
    }
    saved = client_for(admin).post(f"/projects/{project.pk}/chat-settings/", fields, follow=True)
    assert b"Chat settings saved." in saved.content
    settings = ChatSettings.objects.get(project=project)
    assert (settings.model_version, settings.k, settings.seconds_limit) == (writer, 5, 30)

    refused = client_for(admin).post(
        f"/projects/{project.pk}/chat-settings/", fields | {"chat-k": "12"}, follow=True
    )
    assert b"less than or equal to 9" in refused.content
    assert ChatSettings.objects.get(project=project).k == 5

    labeler = add_member(project, "lee")
    assert client_for(labeler).post(f"/projects/{project.pk}/chat-settings/", fields).status_code == 403


def test_projects_without_chats_show_no_chat_settings(project, admin, client_for):
    assert b"data-chat-settings" not in client_for(admin).get(f"/projects/{project.pk}/settings/").content


def test_the_api_reads_and_changes_the_chat_settings_field_by_field(make_project, admin, add_member, api):
    project = make_project(name="chats", kinds=["chat"])
    (writer,) = register_versions("writer")
    url = f"/api/projects/{project.pk}/chat-settings/"
    assert api(admin).get(url).json() == {
        "model_version": None,
        "model_name": None,
        "k": 4,
        "max_new_tokens": 256,
        "temperature": 0.8,
        "seconds_limit": 60,
        "calls_per_minute": 20,
    }
    changed = api(admin).put(url, {"model_version": writer.pk, "k": 6}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json() | {"model_name": "writer"} == changed.json()
    assert (changed.json()["k"], changed.json()["seconds_limit"]) == (6, 60)
    for body, field in (
        ({"k": 10}, "k"),
        ({"temperature": "hot"}, "temperature"),
        ({"model_version": 999999}, "model_version"),
        ({"model_version": "writer"}, "model_version"),
        ({"colour": "blue"}, "colour"),
    ):
        refused = api(admin).put(url, body, format="json")
        assert refused.status_code == 400 and refused.json()["field"] == field, refused.json()
    settings = ChatSettings.objects.get(project=project)
    assert (settings.model_version, settings.k, settings.temperature) == (writer, 6, 0.8)
    assert api(admin).put(url, {"model_version": None}, format="json").json()["model_version"] is None

    labeler = add_member(project, "lee")
    assert api(labeler).get(url).status_code == 403
    assert api(labeler).put(url, {"k": 3}, format="json").status_code == 403
    assert ChatSettings.objects.get(project=project).k == 6
