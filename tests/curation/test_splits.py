import random

import pytest

from curation.cleaning.minhash import MinHasher, jaccard
from curation.cleaning.services import cleaning_run
from curation.models import CleaningRun, CleaningSettings, DuplicateCluster
from curation.selectors import snapshot_rows
from curation.snapshots import snapshot_freeze
from curation.splits import group_prompts, normalize_text, prompt_group_key, split_for
from tests.factories import import_prompts, rank_all, review_all


def test_normalizing_ignores_case_whitespace_and_punctuation():
    assert normalize_text("  What is  2+2?!\n") == normalize_text("what is 2 + 2") == "what is 2 2"
    assert normalize_text("Ｃafé—au lait") == "café au lait"
    assert normalize_text("what is 2+3") != normalize_text("what is 2+2")


def test_near_identical_prompts_share_a_group_key():
    one = [{"role": "user", "content": "How do I boil an egg?"}]
    two = [{"role": "user", "content": "how do i boil an egg"}]
    other = [{"role": "user", "content": "How do I poach an egg?"}]
    assert prompt_group_key(one) == prompt_group_key(two) != prompt_group_key(other)


def test_the_split_is_deterministic_seeded_and_close_to_the_fraction():
    keys = [f"group-{i}" for i in range(4000)]
    first = [split_for(k, seed=3, validation_fraction=0.2) for k in keys]
    assert first == [split_for(k, seed=3, validation_fraction=0.2) for k in keys]
    assert first != [split_for(k, seed=4, validation_fraction=0.2) for k in keys]
    assert 0.17 < first.count("validation") / len(keys) < 0.23
    assert {split_for(k, seed=3, validation_fraction=0) for k in keys} == {"train"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_prompt_or_near_duplicate_lands_in_both_splits(make_project, add_member, seed):
    project = make_project(kinds=["demonstration"], overlap=2)
    rng = random.Random(seed)
    texts = []
    for i in range(30):
        base = f"Explain topic number {i} in simple words"
        texts += [base, base.upper() + "!!", "  " + base.lower().replace(" ", "   ") + "?"]
    rng.shuffle(texts)
    import_prompts(project, texts, "demonstration")
    rita = add_member(project, "rita", "reviewer")
    for name in ("lea", "otto"):
        review_all(rank_all(project, add_member(project, name)), rita)

    snapshot = snapshot_freeze(project=project, name="s", seed=seed, validation_fraction=0.3)

    splits_of_group: dict[str, set[str]] = {}
    splits_of_prompt: dict[int, set[str]] = {}
    for row in snapshot_rows(snapshot=snapshot):
        splits_of_group.setdefault(normalize_text(row["prompt"][-1]["content"]), set()).add(row["split"])
        splits_of_prompt.setdefault(row["prompt_id"], set()).add(row["split"])
    assert len(splits_of_group) == 30 and len(splits_of_prompt) == 90
    assert all(len(splits) == 1 for splits in splits_of_group.values())
    assert all(len(splits) == 1 for splits in splits_of_prompt.values())
    both = {next(iter(s)) for s in splits_of_group.values()}
    assert both == {"train", "validation"}
    counts = snapshot.manifest["counts"]
    assert counts["prompts"] == 90 and counts["prompt_groups"] == 30 and counts["rows"] == 180


def test_near_copies_found_by_dedup_share_a_split_even_when_the_snapshot_keeps_them(make_project, add_member):
    project = make_project(kinds=["demonstration"])
    rng = random.Random(7)
    words = [f"w{i}" for i in range(500)]
    texts = []
    for i in range(20):
        base = [f"topic{i}"] + rng.choices(words, k=59)
        texts += [" ".join(base), " ".join([*base[:-1], "changed"])]  # one word apart: Jaccard 0.84
    import_prompts(project, texts, "demonstration")
    review_all(rank_all(project, add_member(project, "lea")), add_member(project, "rita", "reviewer"))
    cleaning_run(project=project, filters=["near_duplicate"])

    snapshot = snapshot_freeze(project=project, name="all kept", cleaning=[], validation_fraction=0.5)

    splits_of_topic: dict[str, set[str]] = {}
    for row in snapshot_rows(snapshot=snapshot):
        splits_of_topic.setdefault(row["prompt"][-1]["content"].split()[0], set()).add(row["split"])
    assert len(splits_of_topic) == 20 and all(len(splits) == 1 for splits in splits_of_topic.values())
    assert {next(iter(s)) for s in splits_of_topic.values()} == {"train", "validation"}
    assert snapshot.manifest["split"]["prompts_in_duplicate_clusters"] == 40


def near_copy_pairs(count: int, *, words: int = 160, seed: int = 11) -> list[tuple[str, str]]:
    """Pairs of prompts one word apart in the middle: word 5-gram Jaccard 151/161 = 0.94 at 160 words."""
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(400)]
    pairs = []
    for i in range(count):
        base = [f"topic{i}", *rng.choices(vocabulary, k=words - 1)]
        copy = [*base[: words // 2], "changed", *base[words // 2 + 1 :]]
        pairs.append((" ".join(base), " ".join(copy)))
    return pairs


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_near_copies_share_a_split_when_no_cleaning_run_clustered_them(make_project, add_member, seed):
    project = make_project(kinds=["demonstration"])
    pairs = near_copy_pairs(6)
    hasher = MinHasher()
    assert all(0.93 < jaccard(*hasher.shingle_sets([a, b])) < 0.95 for a, b in pairs)
    import_prompts(project, [text for pair in pairs for text in pair], "demonstration")
    review_all(rank_all(project, add_member(project, "lea")), add_member(project, "rita", "reviewer"))
    assert not CleaningRun.objects.exists() and not DuplicateCluster.objects.exists()

    snapshot = snapshot_freeze(project=project, name="s", seed=seed, validation_fraction=0.5)

    split_of = {row["prompt"][-1]["content"]: row["split"] for row in snapshot_rows(snapshot=snapshot)}
    assert len(split_of) == 12
    assert [split_of[a] == split_of[b] for a, b in pairs] == [True] * 6
    split = snapshot.manifest["split"]
    assert split["near_copies"]["threshold"] == 0.8 and split["near_copies"]["clusters"] == 6
    assert split["near_copies"]["largest_cluster"] == 2 and split["prompts_in_duplicate_clusters"] == 12
    assert snapshot.manifest["counts"]["prompt_groups"] == 6


def test_the_freeze_groups_near_copies_at_the_projects_threshold(make_project, add_member):
    project = make_project(kinds=["demonstration"])
    CleaningSettings.objects.update_or_create(project=project, defaults={"near_duplicate_threshold": 0.95})
    pairs = near_copy_pairs(6)
    import_prompts(project, [text for pair in pairs for text in pair], "demonstration")
    review_all(rank_all(project, add_member(project, "lea")), add_member(project, "rita", "reviewer"))

    snapshot = snapshot_freeze(project=project, name="s", validation_fraction=0.5)

    split = snapshot.manifest["split"]
    assert split["near_copies"]["threshold"] == 0.95 and split["near_copies"]["clusters"] == 0
    assert snapshot.manifest["counts"]["prompt_groups"] == 12


def _messages(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_a_near_copy_group_takes_its_oldest_prompts_key_and_brings_equal_texts_along():
    (text, near), (other, _) = near_copy_pairs(2)
    prompts = [
        (3, _messages(near)),
        (5, _messages(text.upper() + "!")),  # the same text once normalized
        (8, _messages(other)),
        (9, _messages("Hi there")),  # shorter than a shingle
        (11, _messages("hi, there?")),
    ]
    groups = group_prompts(prompts, threshold=0.8)

    assert groups.group_of[3] == groups.group_of[5] == prompt_group_key(_messages(near))
    assert groups.group_of[8] == prompt_group_key(_messages(other))
    assert groups.group_of[9] == groups.group_of[11] == prompt_group_key(_messages("hi there"))
    assert (groups.clusters, groups.prompts_in_clusters, groups.largest_cluster) == (1, 2, 2)


def test_prompts_too_short_to_shingle_are_grouped_by_their_normalized_text():
    groups = group_prompts(
        [(1, _messages("Hi")), (2, _messages("Hello!")), (3, _messages("hi"))], threshold=0.8
    )
    assert groups.group_of[1] == groups.group_of[3] != groups.group_of[2] and groups.clusters == 0
