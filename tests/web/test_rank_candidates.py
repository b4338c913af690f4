import re

from labeling.models import Assignment, CandidateRating, Ranking, Task
from labeling.services.queue import claim_next_task
from tests.factories import seed_rankings


def _claim(project, labeler):
    return claim_next_task(project=project, labeler=labeler)


def test_the_ranking_page_shows_the_conversation_and_every_candidate(
    make_project, add_member, client_for, django_assert_max_num_queries
):
    project = make_project(k=9)
    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    assignment = _claim(project, lea)
    client = client_for(lea)

    with django_assert_max_num_queries(6):
        response = client.get(f"/assignments/{assignment.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Question number 0?" in html
    assert len(re.findall(r'class="candidate[ "]', html)) == 9
    assert html.count("data-tier-select") == 9
    assert "All answers are bad" in html and "Skip this task" in html


def test_submitting_tiers_with_a_tie_records_the_ranking_and_opens_the_next_task(
    project, add_member, client_for
):
    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    assignment = _claim(project, lea)
    a, b, c, d = Task.objects.get(pk=assignment.task_id).candidate_ids
    form = {f"tier-{a}": "2", f"tier-{b}": "1", f"tier-{c}": "2", f"tier-{d}": "4", "seconds": "42"}
    form |= {f"overall-{b}": "6", f"hallucination-{d}": "on", f"satisfies_constraints-{a}": "no"}

    response = client_for(lea).post(f"/assignments/{assignment.pk}/rank/", form, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    ranking = Ranking.objects.get(assignment=assignment)
    assert ranking.tiers == [[b], [a, c], [d]] and ranking.seconds == 42
    ratings = {r.candidate_id: r for r in CandidateRating.objects.filter(ranking=ranking)}
    assert ratings[b].overall == 6 and ratings[d].hallucination and ratings[a].satisfies_constraints is False
    following = Assignment.objects.get(labeler=lea, state="active")
    assert response["HX-Push-Url"] == f"/assignments/{following.pk}/"
    assert f'data-assignment="{following.pk}"' in response.content.decode()
    assert "Ranking saved." in response.content.decode()


def test_an_unplaced_candidate_is_refused_and_the_form_keeps_what_was_entered(
    project, add_member, client_for
):
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    assignment = _claim(project, lea)
    a, b, c, d = Task.objects.get(pk=assignment.task_id).candidate_ids

    response = client_for(lea).post(
        f"/assignments/{assignment.pk}/rank/",
        {f"tier-{a}": "1", f"tier-{b}": "2", f"tier-{c}": "3", f"overall-{a}": "5"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "not placed: D" in html
    assert re.search(rf'name="overall-{a}" value="5" checked', html)
    assert not Ranking.objects.exists()


def test_all_answers_bad_submits_one_shared_tier(project, add_member, client_for):
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    assignment = _claim(project, lea)

    response = client_for(lea).post(f"/assignments/{assignment.pk}/rank/", {"all_bad": "on"})

    ranking = Ranking.objects.get(assignment=assignment)
    assert ranking.all_bad and ranking.tiers == [Task.objects.get(pk=assignment.task_id).candidate_ids]
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/next/"


def test_after_the_last_task_the_labeler_is_told_nothing_is_waiting(project, add_member, client_for):
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    assignment = _claim(project, lea)

    response = client_for(lea).post(
        f"/assignments/{assignment.pk}/rank/", {"all_bad": "on"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200 and "That was the last task for now" in response.content.decode()
    assert response["HX-Push-Url"] == f"/projects/{project.pk}/next/"
