"""The verifier reward of GRPO: each sampled solution checked against its own problem's answer."""

import json

from trainer_bridge.ml.grpo import verifier_reward


def completions(*texts: str) -> list[list[dict[str, str]]]:
    return [[{"role": "assistant", "content": text}] for text in texts]


def test_each_solution_is_rewarded_by_its_own_problems_verifier_and_answer():
    reward = verifier_reward()
    numeric = json.dumps({"tolerance": 0.5, "relative": False})
    choice = json.dumps({"choices": ["4", "6", "7"]})

    rewards = reward(
        completions=completions("Answer: 42.3", "Answer: 43", "Answer: 7", "Answer: (A)"),
        answer=["42", "42", "C", "C"],
        verifier=["numeric", "numeric", "choice", "choice"],
        options=[numeric, numeric, choice, choice],
    )

    assert rewards == [1.0, 0.0, 1.0, 0.0]


def test_a_verifier_that_raises_gives_reward_0_and_a_logged_line_not_a_crash():
    lines: list[str] = []
    logged: dict[str, float] = {}
    reward = verifier_reward(lines.append)

    rewards = reward(
        completions=completions("Answer: 5", "Answer: 5", "Answer: 5"),
        answer=["not a number", "5", "5"],  # float("not a number") raises inside the numeric verifier
        verifier=["numeric", "numeric", "no such verifier"],
        options=["{}", "{}", "{}"],
        log_metric=lambda name, value: logged.__setitem__(name, value),
    )

    assert rewards == [0.0, 1.0, 0.0]
    assert len(lines) == 2
    assert "the numeric verifier raised ValueError" in lines[0] and "'not a number'" in lines[0]
    assert "the no such verifier verifier raised ValueError" in lines[1]
    assert logged == {"verifier_errors": 2.0}
