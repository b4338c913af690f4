"""A reviewer reads the votes on a comparison, blind like the labelers, and accepts or edits them."""

from labeling.models import EvaluationVote
from labeling.services.evaluation import evaluation_vote_submit
from labeling.services.queue import claim_next_task
from tests.factories import seed_evaluation


def test_a_reviewer_sees_each_vote_and_edits_one_into_a_new_revision(
    make_project, admin, add_member, client_for
):
    project = make_project(name="arena", kinds=["evaluation"], overlap=2)
    seed_evaluation(project, admin, 1, names=("llama-ish-v1", "llama-ish-v2"))
    lea, otto = add_member(project, "lea"), add_member(project, "otto")
    rita = add_member(project, "rita", "reviewer")
    first = claim_next_task(project=project, labeler=lea)
    evaluation_vote_submit(assignment_id=first.pk, labeler=lea, choice="left", reason="A is shorter")
    second = claim_next_task(project=project, labeler=otto)
    evaluation_vote_submit(assignment_id=second.pk, labeler=otto, choice="tie")
    client = client_for(rita)

    page = client.get(f"/review/tasks/{first.task_id}/").content.decode()
    assert page.count("Answer A") == 1 and "Answer B" in page
    assert "A is better" in page and "Why: A is shorter" in page and "About the same" in page
    assert "llama-ish" not in page

    response = client.post(f"/review/assignments/{first.pk}/", {"verdict": "edit", "choice": "right"})
    assert response.status_code == 302
    vote = EvaluationVote.objects.get(assignment=first, is_current=True)
    assert (vote.choice, vote.revision, vote.author, vote.reason) == ("right", 2, rita, "A is shorter")
    page = client.get(f"/review/tasks/{first.task_id}/").content.decode()
    assert 'B is better</strong> <span class="muted">(the labeler said: A is better)' in page
    assert "edited" in page
