import pytest

from labeling.models import Demonstration, Ranking, Review, Role, Task
from labeling.services.annotations import ranking_submit
from labeling.services.drafts import demonstration_draft_submit
from labeling.services.queue import claim_next_task
from tests.factories import seed_demonstrations, seed_rankings


@pytest.fixture
def ranked(make_project, add_member):
    """One ranking task done by two labelers, and a reviewer."""
    project = make_project(overlap=2)
    seed_rankings(project, 1)
    submitted = []
    for name in ("lea", "otto"):
        labeler = add_member(project, name)
        assignment = claim_next_task(project=project, labeler=labeler)
        a, b, c, d = assignment.task.candidate_ids
        tiers = [[a], [b, c], [d]] if name == "lea" else [[d], [c], [b], [a]]
        ranking_submit(
            assignment_id=assignment.pk,
            labeler=labeler,
            tiers=tiers,
            ratings=[{"candidate": a, "overall": 6}],
        )
        submitted.append(assignment)
    return project, add_member(project, "rhea", Role.REVIEWER), submitted


def test_the_queue_lists_tasks_with_unreviewed_work(ranked, client_for, django_assert_max_num_queries):
    project, reviewer, submitted = ranked
    client = client_for(reviewer)
    with django_assert_max_num_queries(7):
        html = client.get(f"/projects/{project.pk}/review/").content.decode()
    assert f"/review/tasks/{submitted[0].task_id}/" in html and "Question number 0?" in html
    assert '<span class="badge warn">2</span>' in html


def test_a_task_shows_each_labelers_ranking_side_by_side(ranked, client_for, django_assert_max_num_queries):
    _, reviewer, submitted = ranked
    client = client_for(reviewer)
    with django_assert_max_num_queries(12):
        html = client.get(f"/review/tasks/{submitted[0].task_id}/").content.decode()
    assert "<strong>lea</strong>" in html and "<strong>otto</strong>" in html
    assert html.count('class="tier-badge"') == 8  # 4 answers x 2 labelers
    assert "6/7" in html


def test_accept_and_reject_with_a_reason(ranked, client_for):
    _, reviewer, (first, second) = ranked
    client = client_for(reviewer)

    client.post(f"/review/assignments/{first.pk}/", {"verdict": "accept"})
    no_reason = client.post(f"/review/assignments/{second.pk}/", {"verdict": "reject"}, follow=True)
    client.post(f"/review/assignments/{second.pk}/", {"verdict": "reject", "reason": "ranked at random"})

    assert "Say why the work is rejected." in no_reason.content.decode()
    verdicts = dict(Review.objects.values_list("assignment_id", "verdict"))
    assert verdicts == {first.pk: "accept", second.pk: "reject"}
    assert Task.objects.get(pk=first.task_id).status == "open"  # a rejected label goes back to the pool
    page = client.get(f"/review/tasks/{first.task_id}/").content.decode()
    assert "ranked at random" in page


def test_editing_a_ranking_keeps_the_labelers_original(ranked, client_for):
    _, reviewer, (first, _) = ranked
    a, b, c, d = first.task.candidate_ids

    client_for(reviewer).post(
        f"/review/assignments/{first.pk}/",
        {"verdict": "edit", f"tier-{a}": "1", f"tier-{b}": "2", f"tier-{c}": "3", f"tier-{d}": "3"},
    )

    original, edited = Ranking.objects.filter(assignment=first).order_by("revision")
    assert original.tiers == [[a], [b, c], [d]] and not original.is_current
    assert edited.tiers == [[a], [b], [c, d]] and edited.is_current and edited.author == reviewer
    assert edited.ratings.get(candidate_id=a).overall == 6


def test_editing_a_demonstration_makes_a_new_revision(make_project, add_member, client_for):
    project = make_project(kinds=["demonstration"])
    seed_demonstrations(project, 1)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    demonstration_draft_submit(assignment_id=assignment.pk, labeler=lea, content="Paris, 1889.")
    reviewer = add_member(project, "rhea", Role.REVIEWER)
    client = client_for(reviewer)
    assert "Paris, 1889." in client.get(f"/review/tasks/{assignment.task_id}/").content.decode()

    client.post(f"/review/assignments/{assignment.pk}/", {"verdict": "edit", "content": "Paris, in 1889."})

    revisions = list(Demonstration.objects.filter(assignment=assignment).order_by("revision"))
    assert [d.messages[-1]["content"] for d in revisions] == ["Paris, 1889.", "Paris, in 1889."]
    page = client.get(f"/review/tasks/{assignment.task_id}/").content.decode()
    assert "The labeler&#x27;s original" in page or "The labeler's original" in page


def test_labelers_cannot_open_review_pages(ranked, client_for):
    project, _, (first, _) = ranked
    lea = first.labeler
    client = client_for(lea)
    assert client.get(f"/projects/{project.pk}/review/").status_code == 403
    assert client.get(f"/review/tasks/{first.task_id}/").status_code == 403
    assert client.post(f"/review/assignments/{first.pk}/", {"verdict": "accept"}).status_code == 403
    assert not Review.objects.exists()
