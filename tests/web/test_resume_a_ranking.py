"""A ranking in progress comes back as it was left: the page saves it as a draft and shows it on reload."""

from labeling.models import RankingDraft
from labeling.services.queue import claim_next_task
from tests.factories import seed_rankings


def test_a_saved_draft_is_shown_again_when_the_page_is_opened(
    project, add_member, client_for, django_assert_max_num_queries
):
    seed_rankings(project, 2)
    lea = add_member(project, "lea")
    assignment = claim_next_task(project=project, labeler=lea)
    a, b, c, d = assignment.task.candidate_ids
    client = client_for(lea)

    saved = client.post(
        f"/assignments/{assignment.pk}/rank/draft/",
        {
            f"tier-{b}": "1",
            f"tier-{a}": "2",
            f"overall-{b}": "6",
            f"hallucination-{a}": "on",
            "seconds": "75",
        },
    )
    with django_assert_max_num_queries(6):
        html = client.get(f"/assignments/{assignment.pk}/").content.decode()

    assert saved.status_code == 200 and "saved_at" in saved.json()
    assert RankingDraft.objects.get(assignment=assignment).placement == {str(b): 1, str(a): 2}
    assert f'name="tier-{b}" data-tier-select aria-label="Tier of answer B">' in html
    assert '<option value="1" selected>1</option>' in html and '<option value="2" selected>2</option>' in html
    assert f'name="overall-{b}" value="6" checked' in html
    assert f'name="hallucination-{a}" checked' in html
    assert 'value="75" data-seconds' in html and "Draft saved at" in html


def test_a_draft_of_someone_elses_assignment_is_not_found(project, add_member, client_for):
    seed_rankings(project, 1)
    assignment = claim_next_task(project=project, labeler=add_member(project, "lea"))

    response = client_for(add_member(project, "omar")).post(
        f"/assignments/{assignment.pk}/rank/draft/", {"seconds": "3"}
    )

    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert not RankingDraft.objects.exists()
