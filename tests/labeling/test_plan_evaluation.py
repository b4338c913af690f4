"""An admin plans blind comparisons of model versions; tasks appear once both answers of a pair exist."""

from collections import Counter

import pytest

from core.errors import DomainError, NotAllowed
from labeling.models import Candidate, EvaluationPair, Task
from labeling.services.evaluation import evaluation_pairs_plan, version_pairs
from labeling.services.imports import candidates_add
from registry.models import ModelVersion
from tests.factories import import_answers, import_evaluation_prompts, register_versions


@pytest.fixture
def evaluation(make_project):
    return make_project(
        name="arena", kinds=["evaluation"], guideline="## Evaluation\nPick the more helpful answer."
    )


def pair_counts(project) -> Counter:
    return Counter(
        (min(a, b), max(a, b))
        for a, b in EvaluationPair.objects.filter(project=project).values_list(
            "left_version_id", "right_version_id"
        )
    )


@pytest.mark.parametrize("versions,prompts,per_prompt", [(3, 10, 1), (4, 25, 2), (5, 7, 3), (6, 40, 1)])
def test_every_pair_of_versions_is_compared_equally_often_to_within_one(
    evaluation, admin, versions, prompts, per_prompt
):
    models = register_versions(*[f"v{i}" for i in range(versions)])
    prompt_ids = import_evaluation_prompts(evaluation, prompts)

    plan = evaluation_pairs_plan(
        project=evaluation,
        versions=models,
        prompt_ids=prompt_ids,
        pairs_per_prompt=per_prompt,
        seed=3,
        user=admin,
    )

    counts = pair_counts(evaluation)
    every_pair = version_pairs([m.pk for m in models])
    assert plan.pairs_planned == prompts * per_prompt == sum(counts.values())
    assert set(counts) <= set(every_pair)
    assert max(counts[p] for p in every_pair) - min(counts[p] for p in every_pair) <= 1
    per_version = Counter(v for pair, n in counts.items() for v in pair for _ in range(n))
    assert max(per_version.values()) - min(per_version.values()) <= per_prompt + 1
    on_prompt = Counter(EvaluationPair.objects.filter(project=evaluation).values_list("prompt_id", flat=True))
    assert set(on_prompt.values()) == {per_prompt}  # each prompt its share, never one pair twice (unique key)


def test_a_later_plan_with_a_new_version_compares_it_first_and_replanning_adds_nothing(evaluation, admin):
    a, b, c = register_versions("a", "b", "c")
    prompt_ids = import_evaluation_prompts(evaluation, 6)
    evaluation_pairs_plan(project=evaluation, versions=[a, b], prompt_ids=prompt_ids, user=admin)
    assert pair_counts(evaluation) == {(a.pk, b.pk): 6}

    again = evaluation_pairs_plan(project=evaluation, versions=[b, a], prompt_ids=prompt_ids, user=admin)
    assert again.pairs_planned == 0

    later = evaluation_pairs_plan(
        project=evaluation, versions=[a, b, c], prompt_ids=prompt_ids, pairs_per_prompt=2, user=admin
    )
    assert later.pairs_planned == 6  # each prompt already had one of its two
    assert pair_counts(evaluation) == {(a.pk, b.pk): 6, (a.pk, c.pk): 3, (b.pk, c.pk): 3}


def test_the_side_is_drawn_from_the_seed_and_kept_in_the_task(make_project, admin):
    sides = []
    for name in ("first", "second"):
        project = make_project(name=name, kinds=["evaluation"])
        models = register_versions(f"{name}-a", f"{name}-b")
        prompt_ids = import_evaluation_prompts(project, 30)
        for model in models:
            import_answers(project, model.name, prompt_ids)
        evaluation_pairs_plan(project=project, versions=models, prompt_ids=prompt_ids, seed=11, user=admin)
        pairs = EvaluationPair.objects.filter(project=project).select_related("task").order_by("prompt_id")
        sides.append([p.left_version_id == models[0].pk for p in pairs])
        for pair in pairs:  # the task shows the left version's answer first
            left, right = (
                Candidate.objects.get(pk=pair.task.candidate_ids[0]),
                Candidate.objects.get(pk=pair.task.candidate_ids[1]),
            )
            assert (left.model_version_id, right.model_version_id) == (
                pair.left_version_id,
                pair.right_version_id,
            )
    assert sides[0] == sides[1]  # same seed, same sides
    assert 5 < sum(sides[0]) < 25  # drawn, not fixed: each version is on the left about half the time


def test_a_task_appears_once_both_versions_have_answered_and_never_twice(evaluation, admin):
    a, b = register_versions("alpha", "beta")
    prompt_ids = import_evaluation_prompts(evaluation, 4)
    plan = evaluation_pairs_plan(project=evaluation, versions=[a, b], prompt_ids=prompt_ids, user=admin)
    assert (plan.pairs_planned, plan.tasks_created) == (4, 0)

    import_answers(evaluation, "alpha", prompt_ids)
    assert not Task.objects.filter(project=evaluation).exists()
    assert Candidate.objects.filter(model_version=a).count() == 4  # the answers name a registered version

    import_answers(evaluation, "beta", prompt_ids[:3])
    assert Task.objects.filter(project=evaluation, kind="evaluation").count() == 3

    # the last answer arrives from a generation job, under the version's own candidate name
    prompt = evaluation.prompts.get(pk=prompt_ids[3])
    candidates_add(prompt=prompt, texts=["beta's generated answer"], model_name=b.candidate_model_name,
                   sampling_params={}, model_version_id=b.pk)  # fmt: skip
    import_answers(evaluation, "beta", prompt_ids)  # a re-import changes nothing
    tasks = Task.objects.filter(project=evaluation, kind="evaluation")
    assert tasks.count() == 4 and all(t.required_count == evaluation.overlap for t in tasks)
    assert EvaluationPair.objects.filter(project=evaluation, task__isnull=True).count() == 0


def test_evaluation_prompts_never_become_ranking_tasks(make_project, admin):
    project = make_project(name="both", kinds=["ranking", "evaluation"], k=2)
    a, b = register_versions("one", "two")
    prompt_ids = import_evaluation_prompts(project, 3)
    evaluation_pairs_plan(project=project, versions=[a, b], prompt_ids=prompt_ids, user=admin)
    import_answers(project, "one", prompt_ids)
    import_answers(project, "two", prompt_ids)  # two answers per prompt, K = 2

    assert Counter(Task.objects.filter(project=project).values_list("kind", flat=True)) == {"evaluation": 3}


def test_imported_answers_link_only_to_versions_the_project_may_use(evaluation, make_project, admin):
    other = make_project(name="other", kinds=["evaluation"])
    theirs = ModelVersion.objects.create(name="theirs", kind="base", path="/x", project=other)
    shared = register_versions("shared")[0]
    prompt_ids = import_evaluation_prompts(evaluation, 1)
    import_answers(evaluation, "theirs", prompt_ids)
    import_answers(evaluation, f"shared@{shared.pk}", prompt_ids)

    linked = dict(
        Candidate.objects.filter(prompt_id__in=prompt_ids).values_list("model_name", "model_version_id")
    )
    assert linked == {"theirs": None, f"shared@{shared.pk}": shared.pk}
    assert theirs.candidates.count() == 0


@pytest.mark.parametrize(
    "change,field",
    [
        (lambda ctx: ctx | {"versions": ctx["versions"][:1]}, "versions"),
        (lambda ctx: ctx | {"versions": [ctx["versions"][0], ctx["versions"][0]]}, "versions"),
        (lambda ctx: ctx | {"versions": [*ctx["versions"], ctx["rm"]]}, "versions"),
        (lambda ctx: ctx | {"versions": [*ctx["versions"], ctx["foreign"]]}, "versions"),
        (lambda ctx: ctx | {"pairs_per_prompt": 2}, "pairs_per_prompt"),
        (lambda ctx: ctx | {"pairs_per_prompt": 0}, "pairs_per_prompt"),
        (lambda ctx: ctx | {"prompt_ids": []}, "source"),
        (lambda ctx: ctx | {"prompt_ids": [10**9]}, "prompts"),
    ],
)
def test_a_plan_that_cannot_work_is_refused_naming_the_field(evaluation, make_project, admin, change, field):
    a, b = register_versions("a", "b")
    foreign = ModelVersion.objects.create(
        name="foreign", kind="base", path="/x", project=make_project(name="elsewhere")
    )
    rm = ModelVersion.objects.create(name="judge", kind="rm", path="/x", parent=a)
    ctx = {
        "versions": [a, b],
        "prompt_ids": import_evaluation_prompts(evaluation, 2),
        "rm": rm,
        "foreign": foreign,
    }
    args = change(ctx)

    with pytest.raises(DomainError) as refused:
        evaluation_pairs_plan(
            project=evaluation,
            versions=args["versions"],
            prompt_ids=args["prompt_ids"],
            pairs_per_prompt=args.get("pairs_per_prompt"),
            user=admin,
        )
    assert refused.value.field == field
    assert not EvaluationPair.objects.exists()


def test_only_an_admin_plans_and_only_in_a_project_with_evaluation_tasks(make_project, add_member, admin):
    ranking = make_project(name="ranking only", kinds=["ranking"])
    models = register_versions("a", "b")
    with pytest.raises(DomainError) as refused:
        evaluation_pairs_plan(project=ranking, versions=models, prompt_ids=[], user=admin)
    assert refused.value.field == "task_kinds"

    project = make_project(name="arena", kinds=["evaluation"])
    rhea = add_member(project, "rhea", "reviewer")
    with pytest.raises(NotAllowed):
        evaluation_pairs_plan(
            project=project, versions=models, prompt_ids=import_evaluation_prompts(project, 1), user=rhea
        )


def test_prompts_imported_as_evaluation_prompts_wait_for_their_answers(evaluation):
    import_evaluation_prompts(evaluation, 3)
    assert not Task.objects.filter(project=evaluation).exists()
    assert set(evaluation.prompts.values_list("metadata__task_kind", flat=True)) == {"evaluation"}


def test_a_plan_larger_than_the_bound_is_refused_before_anything_is_stored(evaluation, admin, monkeypatch):
    from labeling.services import evaluation as service

    monkeypatch.setattr(service, "MAX_PLANNED", 5)
    models = register_versions("a", "b", "c")
    prompt_ids = import_evaluation_prompts(evaluation, 2)

    with pytest.raises(DomainError) as refused:
        evaluation_pairs_plan(project=evaluation, versions=models, prompt_ids=prompt_ids, user=admin)

    assert refused.value.field == "limit" and "at most 5 comparisons" in refused.value.detail
    assert not EvaluationPair.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_jobs_storing_the_two_answers_at_the_same_moment_still_make_the_task(make_project, admin):
    """Job A stores version a's answer and holds its transaction open; job B stores b's meanwhile. Neither
    sees the other's uncommitted answer, so B must wait for A's commit, then make the task."""
    import threading
    import time

    from django.db import connection, transaction

    project = make_project(name="arena", kinds=["evaluation"])
    a, b = register_versions("a", "b")
    prompt_ids = import_evaluation_prompts(project, 1)
    evaluation_pairs_plan(project=project, versions=[a, b], prompt_ids=prompt_ids, user=admin)
    prompt = project.prompts.get()
    a_stored, a_may_commit, b_done = threading.Event(), threading.Event(), threading.Event()

    def store(version, before_commit=None):
        try:
            with transaction.atomic():
                candidates_add(
                    prompt=prompt,
                    texts=[f"{version.name}'s answer"],
                    model_name=version.candidate_model_name,
                    sampling_params={},
                    model_version_id=version.pk,
                )
                if before_commit:
                    before_commit()
        finally:
            connection.close()

    job_a = threading.Thread(target=store, args=(a, lambda: (a_stored.set(), a_may_commit.wait(10))))
    job_b = threading.Thread(target=lambda: (a_stored.wait(10), store(b), b_done.set()))
    job_a.start()
    job_b.start()
    deadline = time.monotonic() + 5
    while not b_done.is_set() and time.monotonic() < deadline:  # until B waits on A's lock (or is done)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                break
        time.sleep(0.01)
    a_may_commit.set()
    job_a.join(10)
    job_b.join(10)

    assert Task.objects.filter(project=project, kind="evaluation").count() == 1
