import pytest

from curation.snapshots import snapshot_freeze
from tests.factories import import_prompts, rank_all, review_all, seed_rankings

KINDS = ["ranking", "demonstration", "refusal", "search"]


def tie_in_the_middle(task):
    """Best, then a tie of the next two, then the rest: 4 candidates give 5 pairs, not 6."""
    texts = dict(task.prompt.candidates.values_list("id", "text"))
    ids = sorted(task.candidate_ids, key=lambda cid: texts[cid])
    return [[ids[0]], ids[1:3], *[[cid] for cid in ids[3:]]]


def reverse_order(task):
    texts = dict(task.prompt.candidates.values_list("id", "text"))
    return [[cid] for cid in sorted(task.candidate_ids, key=lambda cid: texts[cid], reverse=True)]


@pytest.fixture
def labeled(make_project, add_member, admin):
    """Every kind of task, labeled twice (overlap 2) and accepted: lea ranks with a tie, otto in reverse."""
    project = make_project(name="everything", kinds=KINDS, overlap=2)
    seed_rankings(project, 5)
    import_prompts(project, [f"Write a short note about item {i}." for i in range(4)], "demonstration")
    import_prompts(project, ["Who won the 1903 chess cup in Lima?"], "refusal")
    import_prompts(project, ["What does the corpus say about otters?", "Find the opening hours."], "search")
    rita = add_member(project, "rita", "reviewer")
    review_all(rank_all(project, add_member(project, "lea"), tie_in_the_middle), rita)
    review_all(rank_all(project, add_member(project, "otto"), reverse_order), rita)
    return project


@pytest.fixture
def snapshot(labeled, admin):
    return snapshot_freeze(project=labeled, name="everything v1", created_by=admin, validation_fraction=0.3)


# --- models and GPU jobs -------------------------------------------------------------------------


@pytest.fixture
def model_root(settings, tmp_path):
    """Training output goes under the test's own directory; jobs run here need no heartbeat thread."""
    settings.MODEL_ROOT = tmp_path / "models"
    settings.JOB_HEARTBEAT_SECONDS = 3600
    return settings.MODEL_ROOT


@pytest.fixture(scope="session")
def tiny_reward_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny chat model with a scalar head, saved: a reward model that scores alike at every load."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=1, pad_token_id=tokenizer.pad_token_id
    )
    out = tmp_path_factory.mktemp("tiny-reward-model")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture
def base_model(untrained_model_dir, db):
    from registry.services import model_register

    return model_register(path=untrained_model_dir, name="tiny-base")


# --- practice sets -------------------------------------------------------------------------------

# One problem of each verifier (twice over, so that both splits hold problems), with a right and a wrong
# solution for each: (problem row, right solution, wrong solution).
PRACTICE = [
    (
        {"problem": f"What is {a} plus {b}?", "answer": str(a + b), "verifier": "numeric", "tolerance": 0.5},
        f"{a} + {b} is about\nAnswer: {a + b}.3",
        f"Answer: {a + b + 1}",
    )
    for a, b in ((17, 25), (40, 2))
] + [
    (
        {"problem": "What is the capital of Peru?", "answer": "Lima"},
        "It is Lima.\nAnswer: lima",
        "Answer: Quito",
    ),
    ({"problem": "Capital of Chile?", "answer": "Santiago"}, "Answer: Santiago", "Answer: Lima"),
    (
        {
            "problem": "Which number is prime?",
            "answer": "C",
            "verifier": "choice",
            "choices": ["4", "6", "7"],
        },
        "Answer: 7",
        "Answer: (A)",
    ),
    (
        {"problem": "Which is a colour?", "answer": "red", "verifier": "choice", "choices": ["red", "dog"]},
        "Answer: A",
        "Answer: dog",
    ),
    (
        {"problem": "Name a year of the 1990s.", "answer": r"199\d", "verifier": "regex"},
        "Answer: 1994",
        "Answer: 2001",
    ),
    (
        {"problem": "Name a year of the 1980s.", "answer": r"198\d", "verifier": "regex"},
        "Answer: 1987",
        "Answer: 1887",
    ),
]


@pytest.fixture
def practice_set(project, admin):
    """A practice set of every verifier, half held out (seed 3 puts problems on both sides)."""
    from curation.practice import practice_set_upload
    from tests.factories import jsonl

    rows = [row for row, _, _ in PRACTICE]
    return practice_set_upload(
        project=project, name="mixed", stream=jsonl(rows), uploaded_by=admin, seed=3, validation_fraction=0.5
    )


@pytest.fixture
def practice_run(practice_set):
    """A finished run of the set: the right then the wrong solution of every problem, verified."""
    from registry.models import ModelVersion
    from trainer_bridge.models import JobStatus, PracticeSolution
    from trainer_bridge.services.practice import practice_run_start, practice_run_verify

    model = ModelVersion.objects.create(name="sampled", kind="base", path="/nowhere")
    run = practice_run_start(practice_set=practice_set, model_version=model, samples=2, dispatch=False)
    for problem, (_, right, wrong) in zip(practice_set.problems.order_by("line"), PRACTICE, strict=True):
        for index, text in enumerate((right, wrong)):
            PracticeSolution.objects.create(run=run, problem=problem, sample_index=index, text=text)
    practice_run_verify(run=run)
    run.status = JobStatus.DONE
    run.save(update_fields=["status"])
    return run
