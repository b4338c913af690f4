"""A model registered without a usable chat template: SFT from it is refused by name until an admin
attaches one (one of Coach's, or an uploaded file) through the API or the command."""

import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from core.errors import DomainError
from registry.services import model_register
from trainer_bridge.models import TrainingJob
from trainer_bridge.services.training import training_job_start

REWRITING = (
    "{% for m in messages %}[{{ m['role'] }}] {% if m['role'] == 'assistant' and not loop.last %}"
    "(earlier){% else %}{{ m['content'] }}{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}[assistant] {% endif %}"
)


@pytest.fixture
def bare_model(untrained_model_dir, tmp_path_factory, labeled):
    """The tiny model with its tokenizer's chat template taken away, registered in the project."""
    path = tmp_path_factory.mktemp("bare") / "bare-model"
    shutil.copytree(untrained_model_dir, path)
    (path / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((path / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (path / "tokenizer_config.json").write_text(json.dumps(config))
    return model_register(path=path, name="bare", project_id=labeled.pk)


def test_sft_from_a_model_without_a_template_is_refused_until_one_is_attached(
    bare_model, snapshot, admin, add_member, model_root
):
    assert "has no chat template" in bare_model.metrics["chat_template_problem"]
    with pytest.raises(DomainError, match="has no chat template: attach one") as refused:
        training_job_start(snapshot=snapshot, base_model=bare_model, kind="sft", user=admin)
    assert refused.value.field == "base_model" and not TrainingJob.objects.exists()

    reviewer = add_member(snapshot.project, "rita", role="reviewer")
    as_reviewer = Client()
    as_reviewer.force_login(reviewer)
    url = f"/api/models/{bare_model.pk}/chat-template/"
    assert as_reviewer.post(url, {"builtin": "chatml"}).status_code == 403

    client = Client()
    client.force_login(admin)
    unfit = client.post(url, {"template": REWRITING})
    assert unfit.status_code == 400 and "rewrites earlier turns" in unfit.content.decode()
    assert client.post(url, {"builtin": "nope"}).status_code == 400
    assert not (Path(bare_model.path) / "chat_template.jinja").exists()  # refusals change nothing

    answer = client.post(url, {"builtin": "chatml"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["metrics"]["chat_template"] == "chatml"
    assert "chat_template_problem" not in answer.json()["metrics"]
    job = training_job_start(snapshot=snapshot, base_model=bare_model, kind="sft", user=admin)
    assert job.status == "queued"


def test_the_command_attaches_a_template_file(bare_model, tmp_path):
    template = tmp_path / "mine.jinja"
    template.write_text(
        "{% for m in messages %}<<{{ m['role'] }}>> {{ m['content'] }} <</turn>>\n{% endfor %}"
        "{% if add_generation_prompt %}<<assistant>> {% endif %}"
    )
    call_command("attach_chat_template", "bare", "--file", str(template))
    bare_model.refresh_from_db()
    assert bare_model.metrics["chat_template"] == "uploaded"
