"""The Evaluation tab and its API: the leaderboard from real votes, each version's pass@k and mean reward,
the votes and DPO pairs as files, and starting an evaluation or a scoring job."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from core.errors import DomainError, NotAllowed
from curation.practice import practice_set_upload
from labeling.models import Candidate, EvaluationPair, Task
from labeling.services.evaluation import evaluation_vote_submit
from labeling.services.queue import claim_next_task
from labeling.services.review import review_create
from registry.models import ModelVersion
from tests.factories import (
    import_answers,
    import_evaluation_prompts,
    jsonl,
    register_versions,
    seed_evaluation,
)
from trainer_bridge.models import AnswerScore, GenerationJob, JobStatus, PracticeSolution, ScoringJob
from trainer_bridge.services.evaluation import evaluation_start
from trainer_bridge.services.practice import practice_run_start, practice_run_verify
from trainer_bridge.services.scoring import scoring_job_start


def prefer(order: list[str], *, tie_last_two: bool = False):
    """A labeler who prefers versions in this order (and may call the last two a tie)."""

    def choose(task: Task) -> str:
        pair = EvaluationPair.objects.select_related("left_version", "right_version").get(task=task)
        left, right = order.index(pair.left_version.name), order.index(pair.right_version.name)
        if tie_last_two and {left, right} == {len(order) - 2, len(order) - 1}:
            return "tie"
        return "left" if left < right else "right"

    return choose


def vote_all(project, labeler, choose) -> list:
    done = []
    while (assignment := claim_next_task(project=project, labeler=labeler)) is not None:
        evaluation_vote_submit(
            assignment_id=assignment.pk, labeler=labeler, choice=choose(assignment.task), reason="because"
        )
        done.append(assignment)
    return done


@pytest.fixture
def voted(make_project, admin, add_member):
    """Three versions on 12 prompts (every pair on each), two labelers who both prefer strong > mid > weak,
    except that lea calls mid and weak a tie."""
    project = make_project(name="arena", kinds=["evaluation"], overlap=2)
    seed_evaluation(project, admin, 12, names=("weak", "mid", "strong"))
    vote_all(project, add_member(project, "lea"), prefer(["strong", "mid", "weak"], tie_last_two=True))
    vote_all(project, add_member(project, "otto"), prefer(["strong", "mid", "weak"]))
    return project


def test_the_leaderboard_api_ranks_the_versions_and_counts_their_votes(voted, add_member, api):
    weak, mid, strong = (ModelVersion.objects.get(name=n) for n in ("weak", "mid", "strong"))
    rita = add_member(voted, "rita", "reviewer")

    body = api(rita).get(f"/api/projects/{voted.pk}/leaderboard/?baseline={weak.pk}").json()

    assert body["votes"] == 72 and body["baseline"] == {"id": weak.pk, "name": "weak"}
    assert [v["name"] for v in body["versions"]] == ["strong", "mid", "weak"]
    by_name = {v["name"]: v for v in body["versions"]}
    # strong beat weak on all 12 prompts, twice; mid tied weak with lea and beat it with otto
    assert by_name["strong"]["against_baseline"] | {"win_rate": 0} == {
        "wins": 24, "ties": 0, "losses": 0, "win_rate": 0, "tie_rate": 0.0, "loss_rate": 0.0,
    }  # fmt: skip
    assert by_name["mid"]["against_baseline"] | {"win_rate": 0, "tie_rate": 0} == {
        "wins": 12, "ties": 12, "losses": 0, "win_rate": 0, "tie_rate": 0, "loss_rate": 0.0,
    }  # fmt: skip
    low, high = by_name["strong"]["interval_95"]
    assert low < by_name["strong"]["rating"] < high
    assert body["position_bias"]["left_wins"] + body["position_bias"]["right_wins"] == 72 - 12
    assert {g["group"] for g in body["groups"]} == {"chat", "code"}

    by_category = api(rita).get(f"/api/projects/{voted.pk}/leaderboard/?by=category").json()
    assert {g["group"] for g in by_category["groups"]} == {"easy", "hard"}
    refused = api(rita).get(f"/api/projects/{voted.pk}/leaderboard/?by=colour")
    assert refused.status_code == 400 and refused.json()["field"] == "by"


def test_a_rejected_vote_stops_counting_and_accepted_only_counts_reviewed_votes(voted, add_member, api):
    rita = add_member(voted, "rita", "reviewer")
    otto_first = voted.tasks.first().assignments.get(labeler__username="otto")
    review_create(assignment_id=otto_first.pk, reviewer=rita, verdict="reject", reason="rushed")
    lea_first = voted.tasks.first().assignments.get(labeler__username="lea")
    review_create(assignment_id=lea_first.pk, reviewer=rita, verdict="accept")

    assert api(rita).get(f"/api/projects/{voted.pk}/leaderboard/").json()["votes"] == 71
    assert api(rita).get(f"/api/projects/{voted.pk}/leaderboard/?accepted=1").json()["votes"] == 1


def test_the_page_shows_ratings_records_position_bias_pass_at_k_and_mean_reward(voted, admin, add_member):
    weak, mid, strong = (ModelVersion.objects.get(name=n) for n in ("weak", "mid", "strong"))
    arith = practice_set_upload(
        project=voted,
        name="arith",
        stream=jsonl(
            [{"problem": "2+2?", "answer": "4", "verifier": "numeric"}, {"problem": "3+3?", "answer": "6"}]
        ),
        uploaded_by=admin,
    )
    run = practice_run_start(practice_set=arith, model_version=strong, samples=4, dispatch=False)
    first, second = arith.problems.order_by("line")
    for problem, texts in {
        first: ["Answer: 4"] * 2 + ["Answer: 5"] * 2,
        second: ["Answer: 6"] + ["x"] * 3,
    }.items():
        for i, text in enumerate(texts):
            PracticeSolution.objects.create(run=run, problem=problem, sample_index=i, text=text)
    practice_run_verify(run=run)
    type(run).objects.filter(pk=run.pk).update(status=JobStatus.DONE)
    judge = ModelVersion.objects.create(name="judge", kind="rm", path="/x", parent=weak, project=voted)
    scored = Candidate.objects.filter(model_version=mid).order_by("pk")[:4]
    for candidate, score in zip(scored, [1.0, 2.0, 4.0, 5.0], strict=True):
        AnswerScore.objects.create(candidate=candidate, reward_model=judge, score=score)
    rita = add_member(voted, "rita", "reviewer")
    client = Client()
    client.force_login(rita)

    response = client.get(f"/projects/{voted.pk}/evaluation/?k=2")

    assert response.status_code == 200
    html = response.content.decode()
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr ")[1:]
    assert [r.split('data-version="')[1].split('"')[0] for r in rows] == ["strong", "mid", "weak"]
    # pass@1 = mean(2/4, 1/4) = 0.375; pass@2 = mean(1 - C(2,2)/C(4,2), 1 - C(3,2)/C(4,2)) = mean(5/6, 1/2)
    assert "0.375" in rows[0] and "0.667" in rows[0]
    assert "3.000 <span" in rows[1]  # judge's mean score of mid's answers, and how many
    assert "24 / 0 / 0" in rows[0] and "baseline" in rows[2]
    assert "The answer on the left won" in html and "decided votes" in html
    assert 'aria-label="Rating with its 95% interval"' in html and 'aria-label="Votes against weak"' in html
    assert "Start an evaluation" not in html  # a reviewer reads; admins start evaluations


def test_the_votes_and_the_dpo_pairs_download_as_jsonl(voted, add_member, tmp_path):
    rita = add_member(voted, "rita", "reviewer")
    client = Client()
    client.force_login(rita)

    votes = [
        json.loads(line)
        for line in b"".join(client.get(f"/projects/{voted.pk}/evaluation/votes.jsonl")).splitlines()
    ]
    pairs = [
        json.loads(line)
        for line in b"".join(client.get(f"/projects/{voted.pk}/evaluation/dpo-pairs.jsonl")).splitlines()
    ]

    assert len(votes) == 72
    vote = votes[0]
    assert set(vote) >= {"prompt", "left", "right", "shown_left", "choice", "winner", "reason", "labeler"}
    assert vote["shown_left"] == vote["left"]["name"] and vote["reason"] == "because"
    assert vote["prompt"][0]["content"].startswith("Explain idea number")
    assert vote["winner"] == {"left": vote["left"]["name"], "right": vote["right"]["name"]}.get(
        vote["choice"]
    )
    task = Task.objects.get(pk=vote["task"])
    assert vote["left"]["answer"] == Candidate.objects.get(pk=task.candidate_ids[0]).text
    # 36 tasks, each won by one side: strong twice over the others, mid over weak by one vote and a tie
    assert len(pairs) == 36
    assert all(
        p["chosen_model"] == "strong" for p in pairs if "strong" in (p["chosen_model"], p["rejected_model"])
    )
    mid_weak = [p for p in pairs if {p["chosen_model"], p["rejected_model"]} == {"mid", "weak"}]
    assert len(mid_weak) == 12 and all(
        p["chosen_model"] == "mid" and p["votes"] == {"chosen": 1, "rejected": 0, "tie": 1} for p in mid_weak
    )
    pair = pairs[0]
    assert (
        pair["chosen"][0]["role"] == "assistant"
        and pair["chosen"][0]["content"] != pair["rejected"][0]["content"]
    )

    out = StringIO()
    call_command(
        "export_evaluation",
        "--project",
        "arena",
        "--what",
        "dpo",
        "--out",
        str(tmp_path / "dpo.jsonl"),
        stdout=out,
    )
    assert "36 rows written" in out.getvalue()
    assert [json.loads(line) for line in (tmp_path / "dpo.jsonl").read_text().splitlines()] == pairs


def test_an_evaluation_start_queues_a_generation_job_for_each_version_still_missing_answers(
    make_project, admin
):
    project = make_project(name="arena", kinds=["evaluation"])
    imported, generated, fresh = register_versions("imported", "generated", "fresh")
    prompt_ids = import_evaluation_prompts(project, 6)
    import_answers(project, "imported", prompt_ids)
    import_answers(project, "generated", prompt_ids[:2])

    started = evaluation_start(
        project=project, versions=[imported, generated, fresh], user=admin, max_new_tokens=8
    )

    assert (
        started.plan.pairs_planned == 18 and started.plan.tasks_created == 2
    )  # imported vs generated, 2 prompts
    jobs = {job.model_version.name: job for job in started.jobs}
    assert set(jobs) == {"generated", "fresh"}
    assert jobs["generated"].prompt_ids == prompt_ids[2:] and jobs["generated"].k == 1
    assert jobs["fresh"].prompt_ids == prompt_ids and jobs["fresh"].sampling_params["max_new_tokens"] == 8
    assert GenerationJob.objects.count() == 2

    by_source = evaluation_start(project=project, versions=[imported, generated], user=admin, source="code")
    assert (
        by_source.plan.pairs_planned == 0 and by_source.plan.prompts == 3
    )  # those pairs are planned already


def test_starting_an_evaluation_or_a_scoring_job_is_for_admins_and_refuses_what_cannot_work(
    make_project, admin, add_member
):
    project = make_project(name="arena", kinds=["evaluation"])
    a, b = seed_evaluation(project, admin, 2)
    rhea = add_member(project, "rhea", "reviewer")
    judge = ModelVersion.objects.create(name="judge", kind="rm", path="/x", parent=a)
    with pytest.raises(NotAllowed):
        evaluation_start(project=project, versions=[a, b], user=rhea)
    with pytest.raises(DomainError) as refused:
        evaluation_start(project=project, versions=[a, b], user=admin, source="nowhere")
    assert refused.value.field == "source"
    with pytest.raises(NotAllowed):
        scoring_job_start(project=project, reward_model=judge, user=rhea)
    with pytest.raises(DomainError) as refused:
        scoring_job_start(project=project, reward_model=a, user=admin)
    assert refused.value.field == "reward_model"

    job = scoring_job_start(project=project, reward_model=judge, user=admin)
    assert job.progress_total == 4 and sorted(job.candidate_ids) == sorted(
        cid for t in Task.objects.filter(project=project) for cid in t.candidate_ids
    )
    for cid in job.candidate_ids:
        AnswerScore.objects.create(candidate_id=cid, reward_model=judge, score=0.0)
    with pytest.raises(DomainError) as refused:
        scoring_job_start(project=project, reward_model=judge, user=admin)
    assert refused.value.field == "reward_model" and ScoringJob.objects.count() == 1

    empty = make_project(name="empty", kinds=["evaluation"])
    with pytest.raises(DomainError) as refused:
        scoring_job_start(project=empty, reward_model=judge, user=admin)
    assert refused.value.field == "project"


def test_an_admin_starts_an_evaluation_from_the_page_and_sees_what_was_planned(make_project, admin):
    project = make_project(name="arena", kinds=["evaluation"])
    a, b = register_versions("a", "b")
    prompt_ids = import_evaluation_prompts(project, 3)
    import_answers(project, "a", prompt_ids)
    import_answers(project, "b", prompt_ids)
    client = Client()
    client.force_login(admin)

    page = client.get(f"/projects/{project.pk}/evaluation/").content.decode()
    assert "No vote yet." in page and "Start an evaluation" in page

    response = client.post(
        f"/projects/{project.pk}/evaluation/start/", {"versions": [a.pk, b.pk], "seed": "5"}, follow=True
    )
    assert (
        "3 comparisons planned over 3 prompts; 3 tasks are ready for labelers." in response.content.decode()
    )

    refused = client.post(f"/projects/{project.pk}/evaluation/start/", {"versions": [a.pk]}, follow=True)
    assert "Choose at least two model versions to compare." in refused.content.decode()
