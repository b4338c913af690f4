from pathlib import Path

import pytest
import torch

from trainer_bridge.ml.tiny import make_tiny_model

# Tiny tensors: more threads only add contention on a shared CI machine.
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """One tiny chat model + tokenizer for the whole session (built from scratch, ~2 s)."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"), seed=0)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)
