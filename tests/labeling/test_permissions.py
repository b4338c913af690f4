"""Every API endpoint × anonymous, non-member, labeler, reviewer, admin."""

import io

import pytest

from labeling.models import Assignment
from tests.factories import seed_rankings

ROLES = ["anonymous", "outsider", "labeler", "reviewer", "admin"]
ORDER = {"labeler": 1, "reviewer": 2, "admin": 3}


@pytest.fixture
def world(project, add_member, make_user):
    seed_rankings(project, 3)
    people = {
        "outsider": make_user("outsider"),
        "labeler": add_member(project, "lea"),
        "reviewer": add_member(project, "rita", "reviewer"),
        "admin": add_member(project, "adam", "admin"),
        "anonymous": None,
    }
    owner = add_member(project, "owner")
    from labeling.services.queue import claim_next_task

    assignment = claim_next_task(project=project, labeler=owner)
    return project, people, assignment


def _file() -> io.BytesIO:
    upload = io.BytesIO(b'{"prompt": "hello"}\n')
    upload.name = "p.jsonl"
    return upload


# (method, url template, payload, format, least role). "self" means: the labeler who holds the assignment.
ENDPOINTS = [
    ("get", "/api/projects/{p}/", None, None, "labeler"),
    ("patch", "/api/projects/{p}/", {"description": "x"}, "json", "admin"),
    ("get", "/api/projects/{p}/members/", None, None, "admin"),
    ("put", "/api/projects/{p}/members/", {"username": "lea", "role": "labeler"}, "json", "admin"),
    ("get", "/api/projects/{p}/guideline/", None, None, "labeler"),
    ("post", "/api/projects/{p}/guideline/versions/", {"body": "new", "change_note": ""}, "json", "admin"),
    ("post", "/api/projects/{p}/guideline/acknowledge/", {"version": 1}, "json", "labeler"),
    ("post", "/api/projects/{p}/import/prompts/", "file", "multipart", "admin"),
    ("post", "/api/projects/{p}/import/candidates/", "file", "multipart", "admin"),
    ("post", "/api/projects/{p}/next/", None, None, "labeler"),
    ("get", "/api/projects/{p}/annotations/", None, None, "labeler"),
    ("get", "/api/assignments/{a}/", None, None, "reviewer"),
    ("post", "/api/assignments/{a}/submit/", {"tiers": [[1]]}, "json", "self"),
    ("post", "/api/assignments/{a}/skip/", {"reason": "x"}, "json", "self"),
    ("post", "/api/assignments/{a}/release/", None, None, "self"),
    ("post", "/api/assignments/{a}/renew/", None, None, "self"),
    ("post", "/api/assignments/{a}/reviews/", {"verdict": "accept"}, "json", "reviewer"),
]


def _expected(role: str, least: str, project_scoped: bool) -> set[int]:
    if role == "anonymous":
        return {401, 403}
    if least == "self":  # nobody but the holder may act on an assignment
        return {403}
    if role == "outsider":
        return {404} if project_scoped or least != "self" else {403}
    if ORDER[role] < ORDER[least]:
        return {403}
    return set(range(200, 300)) | {400, 409}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(world, api, endpoint, role):
    project, people, assignment = world
    method, template, payload, fmt, least = endpoint
    url = template.format(p=project.pk, a=assignment.pk)
    data = _file() if payload == "file" else payload
    kwargs = {"format": fmt} if fmt else {}
    response = getattr(api(people[role]), method)(
        url, {"file": data} if payload == "file" else data, **kwargs
    )
    assert response.status_code in _expected(role, least, "{p}" in template), response.content
    if least == "self":
        assert Assignment.objects.get(pk=assignment.pk).state == "active"


def test_only_site_admins_create_projects(world, api):
    _, people, _ = world
    payload = {"name": "new", "task_kinds": ["ranking"], "k": 4, "overlap": 1, "lease_seconds": 600}
    assert api(people["admin"]).post("/api/projects/", payload, format="json").status_code == 403
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.get(username="ada")
    assert api(staff).post("/api/projects/", payload, format="json").status_code == 201


def test_project_lists_show_only_member_projects(world, api, make_project):
    _, people, _ = world
    make_project(name="secret")
    names = [p["name"] for p in api(people["labeler"]).get("/api/projects/").json()]
    assert names == ["helpful"]
    assert api(people["outsider"]).get("/api/projects/").json() == []
