import pytest
import torch

# Tiny tensors: more threads only add contention on a shared CI machine.
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)
