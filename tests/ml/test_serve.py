"""Coach's transformers server (trainer_bridge.ml.serve): serving without vLLM, through the client."""

import random

import pytest
import requests
from django.test import override_settings

from registry.client import ChatClient, ServerUnavailable
from trainer_bridge import serving
from trainer_bridge.ml.generate import Sampler, TextStream, generate_candidates
from trainer_bridge.ml.tiny import _dialogues

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about chess."}]


@pytest.fixture(scope="module")
def transformers_server(tiny_model_dir, tmp_path_factory):
    with override_settings(DATA_ROOT=tmp_path_factory.mktemp("servers"), SERVER_THREADS=1):
        process = serving.launch(engine="transformers", model_dir=str(tiny_model_dir), served_name="tiny")
    try:
        serving.wait_ready(process, timeout=300)
        yield process
    finally:
        serving.stop(process)


@pytest.fixture(scope="module")
def sampler(tiny_model_dir):
    return Sampler(tiny_model_dir)


def test_the_server_answers_n_replies_for_a_seed_as_the_in_process_loop_does(transformers_server, sampler):
    client = ChatClient(base_url=transformers_server.url, model="tiny")
    sampling = {"max_tokens": 24, "temperature": 1.0, "top_p": 0.95}

    served = client.complete(CHAT, n=4, seed=11, **sampling)
    again = client.complete(CHAT, n=4, seed=11, **sampling)
    other = client.complete(CHAT, n=4, seed=12, **sampling)

    [local] = sampler.answers([CHAT], k=4, seeds=[11], max_new_tokens=24, temperature=1.0, top_p=0.95)
    assert [c.text for c in served] == [a.text for a in local]
    assert [c.finish_reason for c in served] == [a.finish_reason for a in local]
    assert served == again and served != other
    assert len({c.text for c in served}) > 1  # the n samples of one prompt differ


def test_a_streamed_reply_arrives_in_pieces_that_join_into_the_whole_reply(transformers_server):
    client = ChatClient(base_url=transformers_server.url, model="tiny")
    [whole] = client.complete(CHAT, n=1, seed=3, max_tokens=40)

    pieces = list(client.stream(CHAT, seed=3, max_tokens=40))

    assert len(pieces) > 3 and "".join(pieces) == whole.text


def test_the_server_lists_its_model_and_refuses_bad_requests_naming_the_field(transformers_server):
    assert ChatClient(base_url=transformers_server.url, model="tiny").served_models() == ["tiny"]
    url = f"{transformers_server.url}/chat/completions"
    for body, status, field in [
        ({"model": "tiny", "messages": CHAT, "n": 0}, 400, "n"),
        ({"model": "tiny", "messages": CHAT, "max_tokens": 10**6}, 400, "max_tokens"),
        ({"model": "tiny", "messages": "hello"}, 400, "messages"),
        ({"model": "tiny", "messages": CHAT, "seed": -1}, 400, "seed"),
        ({"model": "other", "messages": CHAT}, 404, "model"),
    ]:
        answer = requests.post(url, json=body, timeout=30)
        assert answer.status_code == status, body
        assert answer.json()["error"]["param"] == field
    with pytest.raises(ServerUnavailable, match="404"):
        ChatClient(base_url=transformers_server.url, model="other").complete(CHAT)


def test_a_stopped_server_is_gone(tiny_model_dir, tmp_path):
    with override_settings(DATA_ROOT=tmp_path, SERVER_THREADS=1):
        process = serving.launch(engine="transformers", model_dir=str(tiny_model_dir), served_name="tiny")
    serving.wait_ready(process, timeout=300)

    serving.stop(process)

    assert not process.running()
    with pytest.raises(ServerUnavailable, match="cannot be reached"):
        ChatClient(base_url=process.url, model="tiny", retries=0).served_models()


def test_a_streamed_character_split_across_tokens_arrives_whole(tiny_tokenizer):
    text = "café ñ 日本語 🙂 and more"
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(text.encode()) // 2  # several of its characters span more than one token
    stream = TextStream(tiny_tokenizer)

    pieces = [stream.push(token) for token in ids] + [stream.end()]

    assert "".join(pieces) == text
    assert not any("\ufffd" in piece for piece in pieces)


def test_the_demo_model_writes_no_replacement_character(tiny_model_dir):
    # The demo model is barely trained: it samples lone bytes that are no character, which decoding used
    # to show as U+FFFD in about a third of its answers.
    prompts = [chat[:-1] for chat in _dialogues(random.Random(5), 24)]

    answers = generate_candidates(tiny_model_dir, prompts, k=4, max_new_tokens=64, seed=1)

    texts = [text for row in answers for text in row]
    assert len(texts) == 96 and sum(len(text) for text in texts) > 96 * 20
    assert not [text for text in texts if "\ufffd" in text]
