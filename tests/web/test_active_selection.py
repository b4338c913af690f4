"""Active task selection as people see it: reviewers read the reward model's scores beside the labelers'
rankings, labelers never see them; admins set the queue order on the Quality tab or over the API."""

import pytest

from labeling.models import Project, Role, Task
from labeling.services.active import active_selection_set, task_reward_scores_store
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from registry.models import ModelVersion
from tests.factories import seed_rankings
from trainer_bridge.models import ScoringJob

SCORES = [2.5, -1.25, 0.75, 0.125]


@pytest.fixture
def scored(make_project, add_member):
    """Two ranking tasks scored by the queue's reward model; a labeler ranked one, a reviewer reviews."""
    project = make_project()
    tasks = seed_rankings(project, 2)
    base = ModelVersion.objects.create(name="base", kind="base", path="/models/base")
    judge = ModelVersion.objects.create(
        name="judge-7", kind="rm", path="/models/judge", parent=base, project=project
    )
    active_selection_set(project=project, user=None, queue_order="uncertainty", reward_model=judge)
    task_reward_scores_store(project=project, reward_model=judge, scores={tid: SCORES for tid in tasks})
    project.refresh_from_db()
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    ranking_submit(
        assignment_id=assignment.pk, labeler=lea, tiers=[[cid] for cid in assignment.task.candidate_ids]
    )
    return project, judge, lea, add_member(project, "rhea", Role.REVIEWER), assignment


def test_a_reviewer_sees_the_reward_model_scores_beside_the_rankings(scored, client_for):
    project, judge, _, reviewer, assignment = scored
    html = client_for(reviewer).get(f"/review/tasks/{assignment.task_id}/").content.decode()
    assert "judge-7" in html and "data-model-scores" in html
    for value in ("score 2.500", "score -1.250", "score 0.750", "score 0.125"):
        assert value in html
    task = Task.objects.get(pk=assignment.task_id)
    assert f"uncertainty {task.uncertainty:.3f}" in html
    # the first answer (score 2.5) is the model's first
    rows = html.split('data-answer="')[1:]
    assert '1st</span> <span class="score">score 2.500' in rows[0]


def test_a_labeler_never_sees_the_scores(scored, client_for, api):
    project, _, lea, _, assignment = scored
    served = api(lea).post(f"/api/projects/{project.pk}/next/", {}, format="json")
    assert served.status_code == 200 and "Answer 0 to question" in served.content.decode()
    assert "uncertainty" not in served.content.decode() and "judge-7" not in served.content.decode()
    client = client_for(lea)
    pages = [client.get(f"/assignments/{assignment.pk}/").content.decode()]
    fresh = claim_next_task(project=project, labeler=lea)
    pages.append(client.get(f"/assignments/{fresh.pk}/").content.decode())
    for html in pages:
        assert "Answer 0 to question" in html  # the page shows the answers...
        assert (
            "judge-7" not in html and "2.5" not in html and "uncertainty" not in html.lower()
        )  # ...not the scores
    assert client.get(f"/projects/{project.pk}/quality/active/").status_code == 403
    assert client.get(f"/api/projects/{project.pk}/active-selection/").status_code == 403


def test_reviewers_read_the_settings_and_admins_change_them(scored, client_for, admin):
    project, judge, _, reviewer, _ = scored
    html = client_for(reviewer).get(f"/projects/{project.pk}/quality/active/").content.decode()
    assert "Most uncertain first" in html and "judge-7" in html and "1 of 1" in html
    assert "<form" not in html.split("data-active-settings")[1].split("</section>")[0]
    assert (
        client_for(reviewer)
        .post(f"/projects/{project.pk}/quality/active/", {"queue_order": "arrival"})
        .status_code
        == 403
    )

    response = client_for(admin).post(
        f"/projects/{project.pk}/quality/active/", {"queue_order": "arrival", "reward_model": judge.pk}
    )
    assert response.status_code == 302
    assert Project.objects.get(pk=project.pk).queue_order == "arrival"
    bad = client_for(admin).post(f"/projects/{project.pk}/quality/active/", {"queue_order": "sideways"})
    assert bad.status_code == 400 and "sideways" in bad.content.decode()
    assert Project.objects.get(pk=project.pk).queue_order == "arrival"


def test_the_api_names_the_bad_field_and_changes_nothing(scored, api, admin):
    project, judge, _, reviewer, _ = scored
    client = api(admin)
    body = client.get(f"/api/projects/{project.pk}/active-selection/").json()
    assert body["queue_order"] == "uncertainty" and body["reward_model"] == judge.pk
    assert body["open_ranking_tasks"] == 1 and body["scored_by_reward_model"] == 1  # one task is done
    bad = client.put(
        f"/api/projects/{project.pk}/active-selection/", {"queue_order": "sideways"}, format="json"
    )
    assert bad.status_code == 400 and "queue_order" in bad.json()["field"]
    policy = ModelVersion.objects.create(name="sft-1", kind="sft", path="/models/sft", parent=judge.parent)
    wrong = client.put(
        f"/api/projects/{project.pk}/active-selection/",
        {"queue_order": "uncertainty", "reward_model": policy.pk},
        format="json",
    )
    assert wrong.status_code == 400 and wrong.json()["field"] == "reward_model"
    assert (
        api(reviewer)
        .put(f"/api/projects/{project.pk}/active-selection/", {"queue_order": "arrival"}, format="json")
        .status_code
        == 403
    )
    fresh = Project.objects.get(pk=project.pk)
    assert (fresh.queue_order, fresh.queue_reward_model_id) == ("uncertainty", judge.pk)
    assert not ScoringJob.objects.exists()
