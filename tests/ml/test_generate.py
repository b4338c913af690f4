from trainer_bridge.ml.generate import generate_candidates, generate_candidates_naive

PROMPTS = [
    [{"role": "user", "content": "Tell me about chess."}],
    [
        {"role": "system", "content": "You are a concise assistant. Answer briefly."},
        {"role": "user", "content": "Why do people care about the moon, the ocean and gardening?"},
    ],
    [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Give me a short tip about sleep."},
    ],
]
SAMPLING = {"max_new_tokens": 12, "temperature": 1.0, "top_p": 0.95, "batch_size": 2}


def test_gives_k_candidates_per_prompt(tiny_model_dir):
    candidates = generate_candidates(tiny_model_dir, PROMPTS, k=4, seed=0, **SAMPLING)
    assert len(candidates) == len(PROMPTS)
    assert all(len(answers) == 4 and all(isinstance(a, str) for a in answers) for answers in candidates)


def test_same_seed_gives_the_same_candidates(tiny_model_dir):
    first = generate_candidates(tiny_model_dir, PROMPTS, k=4, seed=7, **SAMPLING)
    again = generate_candidates(tiny_model_dir, PROMPTS, k=4, seed=7, **SAMPLING)
    other = generate_candidates(tiny_model_dir, PROMPTS, k=4, seed=8, **SAMPLING)
    assert first == again
    assert first != other


def test_samples_of_one_prompt_differ(tiny_model_dir):
    [answers] = generate_candidates(tiny_model_dir, PROMPTS[:1], k=6, seed=0, **SAMPLING)
    assert len(set(answers)) > 1


def test_greedy_shared_prefill_matches_transformers_generate(tiny_model_dir):
    # Same tokens as generate() proves the left-padding positions, masks and cache expansion are right.
    greedy = {"max_new_tokens": 16, "temperature": 0.0, "batch_size": 3}
    shared = generate_candidates(tiny_model_dir, PROMPTS, k=2, **greedy)
    naive = generate_candidates_naive(tiny_model_dir, PROMPTS, k=2, **greedy)
    assert shared == naive
    assert all(a == b for a, b in shared)


def test_tiny_top_p_keeps_only_the_most_likely_token(tiny_model_dir):
    nucleus = generate_candidates(
        tiny_model_dir, PROMPTS, k=2, max_new_tokens=10, temperature=1.0, top_p=1e-9
    )
    greedy = generate_candidates(tiny_model_dir, PROMPTS, k=2, max_new_tokens=10, temperature=0.0)
    assert nucleus == greedy


def test_naive_baseline_has_the_same_shape(tiny_model_dir):
    shared = generate_candidates(tiny_model_dir, PROMPTS, k=3, seed=0, **SAMPLING)
    naive = generate_candidates_naive(tiny_model_dir, PROMPTS, k=3, seed=0, **SAMPLING)
    assert [len(a) for a in naive] == [len(a) for a in shared] == [3, 3, 3]
    assert all(isinstance(a, str) for answers in naive for a in answers)


def test_on_batch_reports_every_batch_in_order(tiny_model_dir):
    seen = []
    prompts = PROMPTS + PROMPTS[:2]
    result = generate_candidates(
        tiny_model_dir,
        prompts,
        k=2,
        seed=0,
        max_new_tokens=4,
        batch_size=2,
        on_batch=lambda start, batch: seen.append((start, batch)),
    )
    assert [start for start, _ in seen] == [0, 2, 4]
    assert [answers for _, batch in seen for answers in batch] == result
