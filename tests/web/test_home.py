from guidelines.services import guideline_publish
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from tests.factories import seed_rankings


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "Log in to Coach" in client.get("/login/").content.decode()


def test_home_lists_projects_with_waiting_work_and_what_was_done_today(
    make_project, add_member, client_for, django_assert_max_num_queries
):
    first = make_project(name="alpha")
    second = make_project(name="beta")
    seed_rankings(first, 3)
    seed_rankings(second, 1)
    lea = add_member(first, "lea")
    add_member(second, "lea")
    done = claim_next_task(project=first, labeler=lea)
    ranking_submit(assignment_id=done.pk, labeler=lea, tiers=[done.task.candidate_ids], seconds=120)

    client = client_for(lea)
    with django_assert_max_num_queries(12):
        response = client.get("/")

    html = response.content.decode()
    assert "alpha" in html and "beta" in html
    assert "<dd data-waiting>2</dd>" in html and "<dd data-done-today>1</dd>" in html
    assert "2 min" in html


def test_a_new_guideline_version_is_shown_in_full_with_what_changed(project, admin, add_member, client_for):
    lea = add_member(project, "lea")
    guideline_publish(
        guideline=project.guideline,
        author=admin,
        body="Rank by helpfulness, then honesty.\nNever reward a made-up citation.",
        change_note="citations",
    )

    html = client_for(lea).get("/").content.decode()

    assert "Guideline version 2" in html and "citations" in html
    assert "then honesty.\n<ins>Never reward a made-up citation.</ins></p>" in html  # rendered, marked
    assert "I have read version 2" in html
    assert "Read the new guideline first" in html
