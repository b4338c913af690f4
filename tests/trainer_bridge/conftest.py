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


@pytest.fixture
def base_model(untrained_model_dir, db):
    from registry.services import model_register

    return model_register(path=untrained_model_dir, name="tiny-base")
