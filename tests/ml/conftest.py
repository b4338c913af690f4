import pytest
import torch

# Tiny tensors: more threads only add contention on a shared CI machine
# (2 threads on a loaded 2-core machine ran 10x slower).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)
