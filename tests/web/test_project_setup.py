import io
import json
import re

from labeling.models import Membership, Project, Prompt


def test_a_site_admin_creates_a_project(admin, client_for):
    response = client_for(admin).post(
        "/projects/new/",
        {
            "name": "search-qa",
            "task_kinds": ["search", "demonstration"],
            "k": "4",
            "overlap": "2",
            "lease_seconds": "900",
        },
    )
    project = Project.objects.get(name="search-qa")
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/settings/"
    assert project.task_kinds == ["search", "demonstration"] and project.overlap == 2
    assert Membership.objects.get(project=project, user=admin).role == "admin"


def test_settings_change_k_and_bad_values_are_refused(project, admin, client_for):
    client = client_for(admin)
    fields = {"task_kinds": ["ranking"], "k": "9", "overlap": "3", "lease_seconds": "600", "description": "d"}
    assert client.post(f"/projects/{project.pk}/settings/", fields).status_code == 302
    project.refresh_from_db()
    assert project.k == 9 and project.overlap == 3

    refused = client.post(f"/projects/{project.pk}/settings/", fields | {"k": "12"})
    assert refused.status_code == 400


def test_members_are_added_and_removed(project, admin, make_user, client_for):
    otto = make_user("otto")
    client = client_for(admin)
    client.post(f"/projects/{project.pk}/members/", {"username": "otto", "role": "reviewer"})
    assert Membership.objects.get(project=project, user=otto).role == "reviewer"
    client.post(f"/projects/{project.pk}/members/{otto.pk}/remove/")
    assert not Membership.objects.filter(project=project, user=otto).exists()


def _upload(rows: list[str], name: str = "prompts.jsonl") -> io.BytesIO:
    stream = io.BytesIO("\n".join(rows).encode())
    stream.name = name
    return stream


def test_import_reports_every_bad_line_by_number_and_imports_nothing(project, admin, client_for):
    rows = [json.dumps({"external_id": "p1", "prompt": "Hi?"}), "{oops", json.dumps({"external_id": "p3"})]

    response = client_for(admin).post(
        f"/projects/{project.pk}/import/",
        {"what": "prompts", "file": _upload(rows), "task_kind": "demonstration"},
    )

    html = response.content.decode()
    assert response.status_code == 400 and "2 bad line(s); nothing was imported" in html
    assert '<td class="num">2</td><td>invalid JSON' in html and '<td class="num">3</td>' in html
    assert not Prompt.objects.exists()


def test_import_of_a_good_file_creates_tasks(project, admin, client_for):
    rows = [json.dumps({"external_id": f"p{i}", "prompt": f"Question {i}?"}) for i in range(3)]
    response = client_for(admin).post(
        f"/projects/{project.pk}/import/",
        {"what": "prompts", "file": _upload(rows), "task_kind": "demonstration"},
    )
    assert response.status_code == 200 and "<dt>Tasks created</dt><dd>3</dd>" in response.content.decode()


def test_the_import_form_offers_only_the_task_kinds_the_project_allows(project, admin, client_for):
    client = client_for(admin)  # the project takes ranking and demonstration tasks

    page = client.get(f"/projects/{project.pk}/import/").content.decode()
    refused = client.post(
        f"/projects/{project.pk}/import/",
        {"what": "prompts", "file": _upload([json.dumps({"prompt": "Hi?"})]), "task_kind": "search"},
    )

    offered = re.findall(r'<option value="([a-z]*)"', page[page.index('name="task_kind"') :])
    assert offered == ["", "ranking", "demonstration"]
    assert refused.status_code == 400 and "Select a valid choice." in refused.content.decode()
    assert not Prompt.objects.exists()


def test_only_site_admins_create_projects_and_only_project_admins_set_them_up(
    project, add_member, client_for
):
    lea = add_member(project, "lea")
    client = client_for(lea)
    assert client.get("/projects/new/").status_code == 403
    for page in ("settings", "import", "corpus", "dashboard"):
        assert client.get(f"/projects/{project.pk}/{page}/").status_code == 403
