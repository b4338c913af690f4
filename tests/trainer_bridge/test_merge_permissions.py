"""Merging a project's LoRA adapter is for the project's admins, on the API as on every path."""

from registry.models import ModelVersion
from trainer_bridge.models import MergeJob


def test_only_an_admin_of_the_adapters_project_may_merge_it(make_project, add_member, admin, api):
    project = make_project()
    base = ModelVersion.objects.create(name="base", kind=ModelVersion.Kind.BASE, path="/models/base")
    adapter = ModelVersion.objects.create(
        name="base-lora",
        kind=ModelVersion.Kind.ADAPTER,
        path="/models/base-lora",
        adapter_of=base,
        parent=base,
        project=project,
    )
    for role in ("labeler", "reviewer"):
        member = add_member(project, f"a-{role}", role)
        answer = api(member).post(
            f"/api/models/{adapter.pk}/merge/", {"output_name": "merged"}, format="json"
        )
        assert answer.status_code == 403, (role, answer.content)
    outsider = add_member(make_project(name="other"), "outsider", "admin")
    answer = api(outsider).post(f"/api/models/{adapter.pk}/merge/", {"output_name": "merged"}, format="json")
    assert answer.status_code in (403, 404)
    assert not MergeJob.objects.exists()
    # the admin is refused nothing but a name already taken
    answer = api(admin).post(f"/api/models/{adapter.pk}/merge/", {"output_name": "base"}, format="json")
    assert answer.status_code == 409, answer.content
    assert "output_name" in answer.content.decode()
