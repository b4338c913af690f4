"""Active task selection: labels needed to reach a held-out pairwise accuracy, uncertainty order vs arrival.

A pool of ranking tasks (K answers each) whose answers' quality is a hidden function of their words: each
prompt is about one topic, each topic has its own two good and two bad words, and an answer's quality is
its good words minus its bad ones. Topics arrive with Zipf-like frequencies (a few common, many rare), as
prompts from real users do. Simulated labelers rank by the hidden quality plus Gaussian noise, the noise
set so two labelers order a pair alike about 73% of the time (InstructGPT's inter-labeler agreement).

Each strategy starts from the same first batch (arrival order, no model yet), then after every
`--retrain-every` new labels retrains the reward model from the tiny base on every label so far, with
Coach's own K-wise training (trainer_bridge.ml.reward.train_reward_model, one ranking one batch element)
and measures its pairwise accuracy on held-out tasks against the hidden true order. Arrival order takes the
next tasks by id; uncertainty order scores every open task with the new model and takes the tasks whose
uncertainty (labeling.active.ranking_uncertainty, the one the scoring job writes onto tasks) is highest,
as the queue does between two refreshes. Labels needed = labels at the first retrain reaching the target.

    .venv/bin/python bench/active.py [--seeds 3] [--target 0.9] [--retrain-every 40]

Prints one JSON line last; key `label_savings` = 1 - labels_uncertainty / labels_fifo (medians over seeds).
"""

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo, not bench/ (its queue.py)

import torch  # noqa: E402
import transformers  # noqa: E402

from labeling.active import ranking_uncertainty  # noqa: E402
from trainer_bridge.ml.reward import RMConfig, Scorer, train_reward_model  # noqa: E402
from trainer_bridge.ml.tiny import make_tiny_model  # noqa: E402

AGREEMENT = 0.73
# Single-token words of the tiny tokenizer: a topic's two good and two bad words, then neutral filler.
TOPIC_WORDS = [
    ("helpful", "concise", "unsure", "rich"),
    ("careful", "simple", "long", "every"),
    ("patient", "brief", "little", "many"),
    ("happy", "sure", "always", "thing"),
    ("good", "interesting", "because", "there"),
    ("practice", "detail", "course", "when"),
    ("enjoy", "experts", "people", "more"),
    ("learn", "read", "start", "most"),
]
NEUTRAL = ["about", "answer", "question", "that", "know", "tell", "help", "topic", "sentence", "here"]
TOPIC_NAMES = ["coffee", "chess", "sleep", "soup", "money", "shoes", "ocean", "history"]
WORDS_PER_ANSWER = 6


def make_task(rng: random.Random, k: int, skew: float) -> dict:
    """One prompt about one topic and K answers; quality = good words minus bad words of that topic.
    Topic t arrives with a weight 1 / (t + 1)^skew."""
    weights = [1.0 / (t + 1) ** skew for t in range(len(TOPIC_WORDS))]
    topic = rng.choices(range(len(TOPIC_WORDS)), weights=weights)[0]
    good, bad = TOPIC_WORDS[topic][:2], TOPIC_WORDS[topic][2:]
    answers, quality = [], []
    for _ in range(k):
        marked = rng.randint(1, 4)
        words = [rng.choice(good + bad) for _ in range(marked)]
        words += [rng.choice(NEUTRAL) for _ in range(WORDS_PER_ANSWER - marked)]
        rng.shuffle(words)
        answers.append(" ".join(words))
        quality.append(sum(1 if w in good else -1 if w in bad else 0 for w in words))
    return {
        "prompt": [{"role": "user", "content": f"Tell me about {TOPIC_NAMES[topic]}."}],
        "candidates": answers,
        "quality": quality,
        "topic": topic,
    }


def top_two_uncertainty(scores: list[float]) -> float:
    """The other measure the issue names, for comparison: 2·σ(−gap) between the two best-scored answers."""
    best, second = sorted(scores, reverse=True)[:2]
    return 2.0 / (1.0 + math.exp(min(best - second, 700.0)))


MEASURES = {"pairs": ranking_uncertainty, "top2": top_two_uncertainty}


def tiers_of(values: list[float]) -> list[int]:
    """Tier per answer (0 best); equal values share a tier."""
    distinct = sorted(set(values), reverse=True)
    return [distinct.index(v) for v in values]


def labeler_tiers(rng: random.Random, task: dict, noise: float) -> list[int]:
    """A labeler's strict ranking: the hidden quality plus their own noise."""
    return tiers_of([q + rng.gauss(0.0, noise) for q in task["quality"]])


def agreement(tasks: list[dict], noise: float, rng: random.Random) -> float:
    """Share of answer pairs two independent labelers order alike."""
    same = total = 0
    for task in tasks:
        a, b = labeler_tiers(rng, task, noise), labeler_tiers(rng, task, noise)
        for i in range(len(a)):
            for j in range(i + 1, len(a)):
                same += (a[i] < a[j]) == (b[i] < b[j])
                total += 1
    return same / total


def calibrate_noise(tasks: list[dict]) -> float:
    """The labeler noise giving about 73% agreement between two labelers (bisection)."""
    low, high = 0.01, 20.0
    for _ in range(30):
        mid = (low + high) / 2
        if agreement(tasks, mid, random.Random(1)) > AGREEMENT:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def train(
    base: Path, labeled: list[dict], heldout: list[dict], out: Path, args: argparse.Namespace, seed: int = 0
) -> tuple:
    steps = args.epochs * math.ceil(len(labeled) / args.batch)
    cfg = RMConfig(
        output_dir=out, lr=args.lr, warmup_steps=max(1, steps // 10), groups_per_batch=args.batch,
        epochs=args.epochs, eval_every=10**9, log_every=10**9, checkpoint_every=10**9, seed=seed,
    )  # fmt: skip
    result = train_reward_model(base, labeled, heldout, cfg)
    return result.get("val_pair_accuracy"), result["final_dir"]


def run(
    strategy: str, base: Path, pool: list[dict], heldout: list[dict], noise: float, seed: int, args
) -> dict:
    """Label in batches of --retrain-every, retraining after each; stop at the target or the budget."""
    rng = random.Random(seed * 1000 + 7)  # same labeler noise stream per task for both strategies
    noise_of = {i: labeler_tiers(random.Random(rng.random() + i), task, noise) for i, task in enumerate(pool)}
    open_ids = list(range(len(pool)))
    uncertainty: dict[int, float] = {}
    labeled: list[int] = []
    curve = []
    reached = None
    with tempfile.TemporaryDirectory() as tmp:
        while len(labeled) < args.budget and open_ids:
            if strategy == "uncertainty" and uncertainty:
                open_ids.sort(key=lambda i: (-uncertainty[i], i))  # the queue's order: uncertainty, then id
            batch, open_ids = open_ids[: args.retrain_every], open_ids[args.retrain_every :]
            open_ids.sort()
            labeled += batch
            groups = [
                {"prompt": pool[i]["prompt"], "candidates": pool[i]["candidates"], "tiers": noise_of[i]}
                for i in labeled
            ]
            accuracy, model_dir = train(base, groups, heldout, Path(tmp) / f"rm{len(labeled)}", args)
            curve.append((len(labeled), round(accuracy, 4)))
            if accuracy >= args.target:
                reached = len(labeled)
                break
            if strategy == "uncertainty" and args.measure == "bootstrap":
                uncertainty = bootstrap_disagreement(
                    base, groups, model_dir, [pool[i] for i in open_ids], tmp, args
                )
                uncertainty = dict(zip(open_ids, uncertainty, strict=True))
            elif strategy == "uncertainty":
                scorer = Scorer(model_dir)
                scores = scorer.score_groups([pool[i] for i in open_ids])
                measure = MEASURES[args.measure]
                uncertainty = {i: measure(s) for i, s in zip(open_ids, scores, strict=True)}
    topics = [pool[i]["topic"] for i in labeled]
    return {
        "labels": reached if reached is not None else args.budget,
        "reached": reached is not None,
        "curve": curve,
        "topics_labeled": [topics.count(t) for t in range(len(TOPIC_WORDS))],
    }


def bootstrap_disagreement(
    base: Path, groups: list[dict], model_dir: str, tasks: list[dict], tmp: str, args: argparse.Namespace
) -> list[float]:
    """Not in Coach, for comparison: the model plus --heads more trained on bootstrap resamples of the
    labels; a task's uncertainty is how much they disagree: the spread of σ(r_i − r_j) over the models,
    averaged over the task's pairs."""
    dirs = [model_dir]
    for head in range(args.heads):
        rng = random.Random(len(groups) * 31 + head)
        resample = [groups[rng.randrange(len(groups))] for _ in groups]
        dirs.append(
            train(base, resample, [], Path(tmp) / f"boot{len(groups)}-{head}", args, seed=head + 1)[1]
        )
    scores = [Scorer(d).score_groups(tasks) for d in dirs]
    out = []
    for t in range(len(tasks)):
        spreads = []
        for i, j in combinations(range(len(tasks[t]["candidates"])), 2):
            p = [1 / (1 + math.exp(-(s[t][i] - s[t][j]))) for s in scores]
            spreads.append(statistics.pstdev(p))
        out.append(sum(spreads) / len(spreads))
    return out


def shown(result: dict) -> str:
    """Labels needed; a "+" when the budget ran out first."""
    return f"{result['labels']}{'' if result['reached'] else '+'}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=600, help="ranking tasks waiting to be labeled")
    parser.add_argument("--heldout", type=int, default=150, help="held-out tasks the accuracy is measured on")
    parser.add_argument("--k", type=int, default=4, help="answers per ranking")
    parser.add_argument("--retrain-every", type=int, default=40, help="new labels between two retrains")
    parser.add_argument("--budget", type=int, default=400, help="labels at most, per strategy and seed")
    parser.add_argument("--target", type=float, default=0.9, help="held-out pairwise accuracy to reach")
    parser.add_argument("--skew", type=float, default=1.0, help="topic t arrives with weight 1/(t+1)^skew")
    parser.add_argument(
        "--measure",
        choices=[*sorted(MEASURES), "bootstrap"],
        default="pairs",
        help="pairs: Coach's own (labeling.active.ranking_uncertainty); top2: the two best answers' gap",
    )
    parser.add_argument("--heads", type=int, default=2, help="bootstrap models beside the reward model")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8, help="rankings per training step")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        base = make_tiny_model(Path(tmp) / "base", seed=0)
        per_seed = []
        for seed in range(args.seeds):
            rng = random.Random(seed)
            pool = [make_task(rng, args.k, args.skew) for _ in range(args.pool)]
            heldout = [make_task(rng, args.k, args.skew) for _ in range(args.heldout)]
            noise = calibrate_noise(pool)
            for task in heldout:
                task["tiers"] = tiers_of(task["quality"])  # the hidden true order; ties give no pair
            results = {s: run(s, base, pool, heldout, noise, seed, args) for s in ("fifo", "uncertainty")}
            saving = 1 - results["uncertainty"]["labels"] / results["fifo"]["labels"]
            per_seed.append(
                {"seed": seed, "noise": round(noise, 3), **results, "label_savings": round(saving, 3)}
            )
            print(
                f"seed {seed}: labeler noise σ={noise:.2f}; labels to {args.target:.0%}: "
                f"arrival {shown(results['fifo'])}, uncertainty {shown(results['uncertainty'])} "
                f"(saving {saving:.2f})",
                flush=True,
            )
            for name, r in results.items():
                print(f"  {name:12s} curve {r['curve']}  labels per topic {r['topics_labeled']}", flush=True)
    fifo = statistics.median(r["fifo"]["labels"] for r in per_seed)
    unc = statistics.median(r["uncertainty"]["labels"] for r in per_seed)
    savings = [r["label_savings"] for r in per_seed]
    print(
        f"median labels to {args.target:.0%} held-out pair accuracy: arrival {fifo}, uncertainty {unc}; "
        f"label savings {1 - unc / fifo:.2f} (per seed {min(savings):.2f}–{max(savings):.2f}); "
        f"retrained every {args.retrain_every} labels; {time.perf_counter() - started:.0f} s"
    )
    print(
        json.dumps(
            {
                "label_savings": round(1 - unc / fifo, 3),
                "labels_fifo": fifo,
                "labels_uncertainty": unc,
                "label_savings_per_seed": savings,
                "all_reached": all(r[s]["reached"] for r in per_seed for s in ("fifo", "uncertainty")),
                "target_accuracy": args.target,
                "retrain_every": args.retrain_every,
                "measure": args.measure,
                "seeds": args.seeds,
                "agreement": AGREEMENT,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
