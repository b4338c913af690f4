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
