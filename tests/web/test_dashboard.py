from labeling.models import Role
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from labeling.services.review import review_create
from tests.factories import seed_rankings


def test_the_dashboard_shows_progress_labels_per_day_and_time_on_task(
    make_project, add_member, admin, client_for, django_assert_max_num_queries
):
    project = make_project()
    seed_rankings(project, 4)
    for name, seconds in (("lea", 30.0), ("otto", 90.0)):
        labeler = add_member(project, name)
        assignment = claim_next_task(project=project, labeler=labeler)
        ranking_submit(
            assignment_id=assignment.pk,
            labeler=labeler,
            tiers=[assignment.task.candidate_ids],
            seconds=seconds,
        )
    reviewer = add_member(project, "rhea", Role.REVIEWER)
    first = project.tasks.order_by("id").first().assignments.get()
    review_create(assignment_id=first.pk, reviewer=reviewer, verdict="accept")
    client = client_for(admin)

    with django_assert_max_num_queries(10):
        html = client.get(f"/projects/{project.pk}/dashboard/").content.decode()

    assert "<dd data-done>2</dd>" in html and "<dd data-left>2</dd>" in html
    assert html.count("<rect ") == 2  # today's bar, one segment per labeler
    assert "<td>lea</td>" in html and "30 s" in html and "90 s" in html
