from labeling.models import Assignment
from labeling.services.annotations import ranking_submit
from labeling.services.queue import claim_next_task
from labeling.services.review import review_create
from tests.factories import seed_rankings


def test_skipping_needs_a_reason_then_opens_the_next_task(project, add_member, client_for):
    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    client = client_for(lea)

    refused = client.post(f"/assignments/{assignment.pk}/skip/", {"reason": " "}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 400 and "Say why you skip this task." in refused.content.decode()

    response = client.post(
        f"/assignments/{assignment.pk}/skip/", {"reason": "not my language"}, HTTP_HX_REQUEST="true"
    )

    skipped = Assignment.objects.get(pk=assignment.pk)
    assert skipped.state == "skipped" and skipped.skip_reason == "not my language"
    assert "Task skipped." in response.content.decode()
    assert Assignment.objects.filter(labeler=lea, state="active").exclude(pk=assignment.pk).exists()


def test_putting_a_task_back_returns_home(project, add_member, client_for):
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)

    response = client_for(lea).post(f"/assignments/{assignment.pk}/release/")

    assert response.status_code == 302 and response["Location"] == "/"
    assert Assignment.objects.get(pk=assignment.pk).state == "released"


def test_a_submitted_and_reviewed_assignment_page_offers_the_next_task(project, add_member, client_for):
    seed_rankings(project, 1)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    ranking_submit(assignment_id=assignment.pk, labeler=lea, tiers=[assignment.task.candidate_ids])
    rhea = add_member(project, "rhea", "reviewer")
    review_create(assignment_id=assignment.pk, reviewer=rhea, verdict="accept")

    html = client_for(lea).get(f"/assignments/{assignment.pk}/").content.decode()

    assert "You submitted this task" in html and "Take the next task" in html
