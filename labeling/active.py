"""Active task selection: how unsure a reward model is about a ranking task, from its scores of the answers.

Model-free arithmetic, shared by the scoring job that writes a task's uncertainty and the benchmark. The
measure reads the scores as a Bradley-Terry model does: the chance that the model orders answers i and j
against what a person would say is σ(−|r_i − r_j|). A ranking labels every pair of its K answers, so the
task's uncertainty is that chance averaged over its C(K,2) pairs and doubled: 1.0 means the model cannot
tell any two answers apart (a coin flip on every pair), values near 0 mean it is sure of every pair.
"""

import math
from collections.abc import Sequence
from itertools import combinations


def ranking_uncertainty(scores: Sequence[float]) -> float:
    """Mean over the answer pairs of 2·σ(−|score gap|), in (0, 1]; one answer or none: 0 (nothing to rank)."""
    pairs = list(combinations(scores, 2))
    if not pairs:
        return 0.0
    return sum(2.0 / (1.0 + math.exp(min(abs(a - b), 700.0))) for a, b in pairs) / len(pairs)
