import json

import pytest
from django.core.management import CommandError, call_command

from registry.models import ModelVersion
from trainer_bridge.models import ModelOrigin


def test_make_tiny_model_builds_a_loadable_chat_model_and_registers_it(tmp_path, db, capsys):
    call_command(
        "make_tiny_model", str(tmp_path / "tiny"), "--warmup-steps", "2", "--register", "--name", "demo"
    )

    model = ModelVersion.objects.get(name="demo")
    assert (model.kind, model.parent, model.project) == ("base", None, None)
    assert not ModelOrigin.objects.filter(model=model).exists()  # a base model learned from no snapshot
    config = json.loads((tmp_path / "tiny" / "config.json").read_text())
    assert config["model_type"] == "llama"
    tokenizer = json.loads((tmp_path / "tiny" / "tokenizer_config.json").read_text())
    assert "chat_template" in tokenizer or (tmp_path / "tiny" / "chat_template.jinja").is_file()
    assert "registered base model demo" in capsys.readouterr().out


def test_register_model_adds_a_directory_and_refuses_what_is_not_a_model(
    untrained_model_dir, tmp_path, db, capsys
):
    call_command("register_model", str(untrained_model_dir), "--name", "base-a")
    assert ModelVersion.objects.get(name="base-a").path == str(untrained_model_dir.resolve())

    with pytest.raises(CommandError, match="a model named 'base-a' is registered"):
        call_command("register_model", str(untrained_model_dir), "--name", "base-a")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="lacks config.json"):
        call_command("register_model", str(tmp_path / "empty"))
    with pytest.raises(CommandError, match="names the model it was trained from"):
        call_command("register_model", str(untrained_model_dir), "--name", "sft-a", "--kind", "sft")
    assert ModelVersion.objects.count() == 1
