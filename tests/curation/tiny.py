"""One tiny chat model for the whole test session, shared by the probe and practice tests."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session", name="tiny_model_dir")
def tiny_model_dir_fixture(tmp_path_factory) -> Path:
    torch = pytest.importorskip("torch")
    from trainer_bridge.ml.tiny import make_tiny_model

    torch.set_num_threads(2)  # tiny tensors: more threads only add contention
    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"), seed=0, warmup_steps=5)
