"""What a practice-set export writes: the problems (for RL with the verifiers as the reward), or a run's
verified solutions (SFT rows by rejection sampling, reward-model pairs of a correct over a wrong one).

Problems, by layout (every layout says each problem's held-out `split`):

- TRL: `{"prompt", "answer", "verifier", "tolerance"?, "relative"?, "choices"?, "split", "line",
  "pass_rate"?}`; TRL's GRPOTrainer hands every column to its reward functions. The verifier's options
  are columns of their own, not a nested dict: a dict that is empty for every row cannot be written to
  Parquet.
- verl: `data_source`, `prompt`, `ability: "practice"`, `reward_model: {"style": "rule", "ground_truth":
  answer}` and `extra_info: {"split", "index", "line", "verifier", "tolerance"?, "relative"?,
  "choices"?, "pass_rate"?}`: what `curation.verifiers.compute_score` needs besides the answer.
- OpenRLHF: `{"input", "label", "datasource", "split", "line", "pass_rate"?}`, where `label` is the
  verifier as JSON text (`{"verifier", "answer", ...options}`), since OpenRLHF hands a reward
  function only the labels; `curation.verifiers.reward_func` reads them.

Solutions: SFT `{"messages"}`; pairs `{"prompt", "chosen", "rejected"}` (TRL) or whole-conversation
`{"chosen", "rejected"}` (OpenRLHF), as the snapshot exports write them.
"""

import json
from collections import defaultdict
from collections.abc import Iterator
from itertools import islice, product
from typing import Any

from curation.models import PracticeProblem, PracticeSet
from curation.practice import problem_messages
from trainer_bridge.models import PracticeRun, PracticeSolution

Row = dict[str, Any]
PAIRS_PER_PROBLEM = 4


def problems_of(practice_set: PracticeSet, *, split: str | None) -> list[PracticeProblem]:
    """The set's problems in file order, of one split or all."""
    problems = practice_set.problems.order_by("line")
    return list(problems if split is None else problems.filter(split=split))


def problem_records(
    problems: list[PracticeProblem], *, layout: str, data_source: str, run: PracticeRun | None
) -> Iterator[Row]:
    rates = dict(run.results.values_list("problem_id", "pass_rate")) if run is not None else {}
    for index, problem in enumerate(problems):
        rate = {"pass_rate": rates[problem.pk]} if problem.pk in rates else {}
        options = _verifier_options(problem)
        if layout == "verl":
            yield {
                "data_source": data_source,
                "prompt": problem_messages(problem),
                "ability": "practice",
                "reward_model": {"style": "rule", "ground_truth": problem.answer},
                "extra_info": {
                    "split": problem.split,
                    "index": index,
                    "line": problem.line,
                    "verifier": problem.verifier,
                    **options,
                    **rate,
                },
            }
        elif layout == "openrlhf":
            label = {"verifier": problem.verifier, "answer": problem.answer, **options}
            yield {
                "input": problem_messages(problem),
                "label": json.dumps(label, ensure_ascii=False, separators=(",", ":")),
                "datasource": data_source,
                "split": problem.split,
                "line": problem.line,
                **rate,
            }
        else:
            yield {
                "prompt": problem_messages(problem),
                "answer": problem.answer,
                "verifier": problem.verifier,
                **options,
                "split": problem.split,
                "line": problem.line,
                **rate,
            }


def _verifier_options(problem: PracticeProblem) -> Row:
    """The options a verifier reads, with one type per field (a tolerance is always a float)."""
    options = dict(problem.options)
    if "tolerance" in options:
        options["tolerance"] = float(options["tolerance"])
    return options


def _solutions(
    problems: list[PracticeProblem], run: PracticeRun
) -> Iterator[tuple[PracticeProblem, list[str], list[str]]]:
    """(problem, distinct correct solutions, distinct incorrect solutions), in problem order."""
    right: dict[int, list[str]] = defaultdict(list)
    wrong: dict[int, list[str]] = defaultdict(list)
    rows = PracticeSolution.objects.filter(
        run=run, problem__in=[p.pk for p in problems], correct__isnull=False
    ).order_by("problem_id", "sample_index")
    for problem_id, text, correct in rows.values_list("problem_id", "text", "correct"):
        bucket = right if correct else wrong
        if text.strip() and text not in bucket[problem_id]:
            bucket[problem_id].append(text)
    for problem in problems:
        yield problem, right[problem.pk], wrong[problem.pk]


def solution_sft_records(problems: list[PracticeProblem], *, run: PracticeRun) -> Iterator[Row]:
    """Rejection sampling: each distinct correct solution as an SFT conversation."""
    for problem, right, _ in _solutions(problems, run):
        for text in right:
            yield {"messages": [*problem_messages(problem), {"role": "assistant", "content": text}]}


def solution_pair_records(problems: list[PracticeProblem], *, run: PracticeRun, layout: str) -> Iterator[Row]:
    """Reward-model pairs: a correct solution chosen over an incorrect one to the same problem."""
    for problem, right, wrong in _solutions(problems, run):
        prompt = problem_messages(problem)
        for chosen, rejected in islice(product(right, wrong), PAIRS_PER_PROBLEM):
            chosen_turn = {"role": "assistant", "content": chosen}
            rejected_turn = {"role": "assistant", "content": rejected}
            if layout == "openrlhf":
                yield {"chosen": [*prompt, chosen_turn], "rejected": [*prompt, rejected_turn]}
            else:
                yield {"prompt": prompt, "chosen": [chosen_turn], "rejected": [rejected_turn]}
