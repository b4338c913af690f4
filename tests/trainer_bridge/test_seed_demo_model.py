import io

import pytest
from django.core.management import call_command

from registry.models import ModelVersion


@pytest.mark.ml
@pytest.mark.django_db
def test_the_demo_model_is_built_and_registered_once(settings, tmp_path):
    settings.MODEL_ROOT = tmp_path
    out = io.StringIO()
    call_command("seed_demo_model", stdout=out)
    call_command("seed_demo_model", stdout=out)

    model = ModelVersion.objects.get()
    assert (model.name, model.kind) == ("tiny-demo", "base")
    assert (tmp_path / "tiny-demo" / "config.json").is_file()
    assert "registered already" in out.getvalue()
