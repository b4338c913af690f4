"""A shared base model's page lists the models trained from it in this project only."""

import json

from registry.services import model_register


def _fake_model(path):
    path.mkdir(parents=True)
    for name, body in [("config.json", "{}"), ("tokenizer.json", "{}"), ("model.safetensors", "")]:
        (path / name).write_text(body)
    return path


def test_a_base_model_page_names_only_this_projects_children(tmp_path, make_project, admin, client):
    ours, theirs = make_project(name="ours"), make_project(name="theirs")
    base = model_register(path=_fake_model(tmp_path / "base"), name="shared-base")
    for project, name in [(ours, "ours-sft"), (theirs, "theirs-secret-sft")]:
        model_register(
            path=_fake_model(tmp_path / name), name=name, kind="sft", parent=base, project_id=project.pk
        )
    client.force_login(admin)

    page = client.get(f"/projects/{ours.pk}/models/{base.pk}/").content.decode()
    assert "ours-sft" in page and "theirs-secret-sft" not in page
    other = client.get(f"/projects/{theirs.pk}/models/{base.pk}/").content.decode()
    assert "theirs-secret-sft" in other and "ours-sft" not in other
    api = client.get(f"/api/models/{base.pk}/").content.decode()
    assert "theirs-secret-sft" not in json.dumps(json.loads(api))
