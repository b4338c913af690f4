"""A model is registered only from a directory inside the configured model roots."""

import json
import os

import pytest
from django.core.management import CommandError, call_command

from registry.models import ModelVersion
from registry.services import ModelPathInvalid, check_model_dir


def _fake_model(path):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(b"")
    (path / "tokenizer.json").write_text("{}")
    (path / "metrics.json").write_text(json.dumps({"secret": 1}))
    return path


@pytest.fixture
def roots(tmp_path, settings):
    inside = tmp_path / "models"
    outside = tmp_path / "elsewhere"
    settings.MODEL_ROOTS = [inside]
    settings.MODEL_ROOT = tmp_path / "platform-models"
    return inside, outside


def test_a_model_inside_a_root_registers(roots, db):
    inside, _ = roots
    path = _fake_model(inside / "llama")
    assert check_model_dir(path) == path.resolve()
    call_command("register_model", str(path), "--name", "llama")
    assert ModelVersion.objects.get(name="llama").path == str(path.resolve())


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_paths_that_leave_the_roots_are_refused_before_anything_is_read(roots, db, how):
    inside, outside = roots
    target = _fake_model(outside / "stolen")
    inside.mkdir(parents=True, exist_ok=True)
    if how == "absolute":
        path = str(target)
    elif how == "dotdot":
        path = str(inside / ".." / "elsewhere" / "stolen")
    else:
        os.symlink(target, inside / "link")
        path = str(inside / "link")
    with pytest.raises(CommandError, match="not a model directory inside the model roots"):
        call_command("register_model", path, "--name", "stolen")
    assert not ModelVersion.objects.exists()


def test_the_error_is_the_same_for_a_missing_path_and_one_outside(roots):
    inside, outside = roots
    _fake_model(outside / "exists")
    messages = set()
    for path in [outside / "exists", outside / "missing", inside / "missing", "/etc"]:
        with pytest.raises(ModelPathInvalid) as refused:
            check_model_dir(path)
        messages.add(str(refused.value))
    assert len(messages) == 1
    assert "exists" not in messages.pop()


def test_the_api_refuses_a_path_outside_the_roots_with_a_400(roots, db, admin, project):
    from rest_framework.test import APIClient

    _, outside = roots
    _fake_model(outside / "stolen")
    client = APIClient()
    client.force_authenticate(admin)
    response = client.post(
        f"/api/projects/{project.pk}/models/", {"path": str(outside / "stolen"), "name": "x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "path"
    assert not ModelVersion.objects.exists()


def test_colon_separated_roots_come_from_the_environment(tmp_path):
    import subprocess
    import sys

    env = os.environ | {
        "COACH_MODEL_ROOTS": f"/models:{tmp_path}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from registry.services import model_roots;"
            " print([str(r) for r in model_roots()])",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "'/models'" in out and str(tmp_path.resolve()) in out
