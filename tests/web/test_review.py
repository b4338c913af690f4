import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from labeling.models import Assignment, Demonstration, Ranking, Review, Role, Task
from labeling.services.annotations import ranking_submit
from labeling.services.drafts import demonstration_draft_submit
from labeling.services.queue import assignment_release, claim_next_task
from labeling.services.review import review_accept_remaining
from tests.factories import seed_demonstrations, seed_rankings

User = get_user_model()


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
    # a fixed number of queries whatever the rows: with the filters' labelers, the waiting counts, the
    # labelers and the agreement of the tasks shown
    with django_assert_max_num_queries(10):
        html = client.get(f"/projects/{project.pk}/review/").content.decode()
    assert f"/review/tasks/{submitted[0].task_id}/" in html and "Question number 0?" in html
    assert '<span class="badge warn">2 of 2</span>' in html and "<td>lea, otto</td>" in html


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


@pytest.fixture
def queue(make_project, add_member):
    """Two ranking tasks (lea and otto agree on one, reverse each other on the other) and a
    demonstration task written by lea only, submitted a day apart; and a reviewer."""
    project = make_project(overlap=2, kinds=["ranking", "demonstration"])
    rankings = seed_rankings(project, 2)
    seed_demonstrations(project, 1)
    for name in ("lea", "otto"):
        labeler = add_member(project, name)
        while (assignment := claim_next_task(project=project, labeler=labeler)) is not None:
            task = assignment.task
            if task.kind == "demonstration":
                if name == "otto":
                    assignment_release(assignment_id=assignment.pk, labeler=labeler)
                    break
                demonstration_draft_submit(assignment_id=assignment.pk, labeler=labeler, content="An answer.")
                continue
            ids = sorted(task.candidate_ids)
            reverse = name == "otto" and task.pk == rankings[1]
            ranking_submit(
                assignment_id=assignment.pk,
                labeler=labeler,
                tiers=[[c] for c in (ids[::-1] if reverse else ids)],
            )
    Assignment.objects.filter(task_id=rankings[0]).update(submitted_at=timezone.now() - timedelta(days=3))
    return project, rankings, add_member(project, "rhea", Role.REVIEWER)


def _rows(html: str) -> list[int]:
    return [int(t) for t in re.findall(r'<tr data-task="(\d+)"', html)]


def test_the_queue_filters_by_labeler_kind_agreement_and_date(queue, client_for):
    project, (agreed, reversed_), rhea = queue
    client = client_for(rhea)
    url = f"/projects/{project.pk}/review/"
    demo = Task.objects.get(project=project, kind="demonstration").pk
    otto = User.objects.get(username="otto").pk
    recent = (timezone.localdate() - timedelta(days=1)).isoformat()

    everything = client.get(url).content.decode()
    assert set(_rows(everything)) == {agreed, reversed_, demo}
    assert _rows(client.get(url, {"kind": "demonstration"}).content.decode()) == [demo]
    assert set(_rows(client.get(url, {"labeler": otto}).content.decode())) == {agreed, reversed_}
    low = client.get(url, {"agreement": "25"}).content.decode()
    assert _rows(low) == [reversed_] and '<td class="num" data-agreement>0%</td>' in low
    assert agreed not in _rows(client.get(url, {"since": recent}).content.decode())
    assert _rows(client.get(url, {"until": recent}).content.decode()) == [agreed]
    assert '<td class="num" data-agreement>100%</td>' in everything


def test_a_bad_filter_is_refused_naming_the_field(queue, client_for):
    project, _, rhea = queue
    response = client_for(rhea).get(f"/projects/{project.pk}/review/", {"since": "yesterday"})
    assert response.status_code == 400 and "Filters: Enter a valid date." in response.content.decode()


def test_next_keeps_the_filters_and_ends_in_the_queue(queue, client_for):
    project, (agreed, reversed_), rhea = queue
    client = client_for(rhea)

    first = client.get(f"/projects/{project.pk}/review/next/", {"kind": "ranking"})
    assert first["Location"] == f"/review/tasks/{reversed_}/?kind=ranking"  # the newest first
    second = client.get(f"/projects/{project.pk}/review/next/", {"kind": "ranking", "after": reversed_})
    assert second["Location"] == f"/review/tasks/{agreed}/?kind=ranking"
    page = client.get(f"/review/tasks/{agreed}/", {"kind": "ranking"}).content.decode()
    assert f'href="/projects/{project.pk}/review/next/?kind=ranking&amp;after={agreed}"' in page

    client.post(f"/review/tasks/{reversed_}/accept-next/", {"filters": "kind=ranking"})
    done = client.post(f"/review/tasks/{agreed}/accept-next/", {"filters": "kind=ranking"})
    assert done["Location"] == f"/projects/{project.pk}/review/?kind=ranking"  # no ranking task waits
    assert Review.objects.filter(verdict="accept").count() == 4


def test_accept_and_next_accepts_only_what_no_reviewer_judged_and_never_ones_own(
    make_project, add_member, client_for
):
    project = make_project(overlap=2)
    seed_rankings(project, 1)
    lea, rita = add_member(project, "lea"), add_member(project, "rita", Role.REVIEWER)  # rita labels too
    for labeler in (lea, rita):
        assignment = claim_next_task(project=project, labeler=labeler)
        ranking_submit(assignment_id=assignment.pk, labeler=labeler, tiers=[assignment.task.candidate_ids])
    task_id = assignment.task_id

    accepted = review_accept_remaining(task_id=task_id, reviewer=rita)

    assert [r.assignment.labeler for r in accepted] == [lea]
    assert review_accept_remaining(task_id=task_id, reviewer=rita) == []  # lea's is judged already
    page = client_for(rita).get(f"/review/tasks/{task_id}/").content.decode()
    assert (
        "Every submission you may judge here is reviewed. Your own work waits for another reviewer." in page
    )


def test_a_reviewer_edits_the_ratings_and_flags_of_a_ranking(ranked, client_for):
    _, reviewer, (first, _) = ranked
    a, b, c, d = first.task.candidate_ids
    client = client_for(reviewer)
    form = client.get(f"/review/tasks/{first.task_id}/", {"edit": first.pk}).content.decode()
    assert f'<select name="tier-{a}" data-tier-select' in form and "lea: " not in form  # lea's own, edited
    assert "otto: 4th" in form or "otto: 1st" in form  # where the other labeler put each answer

    client.post(
        f"/review/assignments/{first.pk}/",
        {
            "verdict": "edit",
            **{f"tier-{x}": str(n) for x, n in ((a, 1), (b, 2), (c, 3), (d, 4))},
            f"overall-{a}": "3",
            f"hallucination-{b}": "on",
            f"satisfies_constraints-{c}": "no",
        },
    )

    edited = Ranking.objects.get(assignment=first, is_current=True)
    ratings = {r.candidate_id: r for r in edited.ratings.all()}
    assert edited.tiers == [[a], [b], [c], [d]] and ratings[a].overall == 3
    assert ratings[b].hallucination and ratings[c].satisfies_constraints is False
