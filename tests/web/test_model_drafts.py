"""A labeler's reply starts from the model's draft: shown pre-filled, kept through a reload, and measured
against the reply they submit."""

import pytest

from labeling.models import Demonstration, Prompt, ReplyDraft, ReplyDraftEdit, Task
from labeling.services.queue import claim_next_task
from tests.factories import seed_demonstrations, seed_model_drafts
from trainer_bridge.models import Job

DRAFT = "The history of topic 0 begins in 1850, when the first records were kept."


@pytest.fixture
def drafted(make_project, add_member, admin):
    project = make_project(kinds=["demonstration"])
    seed_demonstrations(project, 2)
    drafter = seed_model_drafts(project, admin, [DRAFT])  # the second prompt has no draft yet
    lea = add_member(project, "lea")
    return project, lea, drafter


def test_the_writing_page_shows_the_model_draft_pre_filled(drafted, client_for):
    project, lea, _ = drafted
    assignment = claim_next_task(project=project, labeler=lea)

    html = client_for(lea).get(f"/assignments/{assignment.pk}/").content.decode()

    textarea = html[html.index("<textarea") : html.index("</textarea>")]
    assert DRAFT in textarea
    assert "A draft by the model drafter is filled in" in html
    draft = ReplyDraft.objects.get(text=DRAFT)
    assert f'name="model_draft" value="{draft.pk}"' in html


def test_a_submitted_edit_of_the_draft_records_the_final_text_and_its_edit_distance(drafted, client_for):
    project, lea, drafter = drafted
    assignment = claim_next_task(project=project, labeler=lea)
    draft = ReplyDraft.objects.get(text=DRAFT)
    final = "The history of topic 0 begins in 1852, when the first written records were kept."

    response = client_for(lea).post(
        f"/assignments/{assignment.pk}/write/", {"content": final, "model_draft": draft.pk, "seconds": "40"}
    )

    assert response.status_code == 302
    edit = ReplyDraftEdit.objects.get()
    assert edit.reply_draft == draft and edit.labeler == lea and edit.final_text == final
    assert (edit.char_distance, edit.word_distance, edit.unchanged) == (9, 2, False)  # 0→2, +"written "
    assert edit.demonstration.messages[-1] == {"role": "assistant", "content": final}


def test_a_draft_submitted_as_it_was_is_recorded_unchanged(drafted, client_for):
    project, lea, _ = drafted
    assignment = claim_next_task(project=project, labeler=lea)
    draft = ReplyDraft.objects.get(text=DRAFT)

    client_for(lea).post(
        f"/assignments/{assignment.pk}/write/", {"content": DRAFT + "\r\n", "model_draft": draft.pk}
    )

    edit = ReplyDraftEdit.objects.get()
    assert (edit.char_distance, edit.word_distance, edit.unchanged) == (0, 0, True)


def test_a_reload_after_an_autosave_shows_the_labelers_text_and_still_knows_the_draft(drafted, client_for):
    project, lea, _ = drafted
    assignment = claim_next_task(project=project, labeler=lea)
    draft = ReplyDraft.objects.get(text=DRAFT)
    client = client_for(lea)
    client.post(f"/assignments/{assignment.pk}/draft/", {"content": "My own start.", "model_draft": draft.pk})

    html = client.get(f"/assignments/{assignment.pk}/").content.decode()

    assert "My own start." in html and DRAFT not in html
    assert "This reply started from a draft by the model drafter." in html
    client.post(f"/assignments/{assignment.pk}/write/", {"content": "My own start, finished."})
    assert ReplyDraftEdit.objects.get().reply_draft == draft  # the autosave remembered it


def test_a_task_whose_draft_is_not_written_yet_is_served_empty_and_the_claim_generates_nothing(
    drafted, client_for
):
    project, lea, _ = drafted
    first = claim_next_task(project=project, labeler=lea)
    client_for(lea).post(f"/assignments/{first.pk}/write/", {"content": "Done with the first."})
    drafts_before, jobs_before = ReplyDraft.objects.count(), Job.objects.count()

    second = claim_next_task(project=project, labeler=lea)  # the prompt without a draft
    html = client_for(lea).get(f"/assignments/{second.pk}/").content.decode()

    assert second.task.prompt.reply_drafts.count() == 0
    assert (ReplyDraft.objects.count(), Job.objects.count()) == (drafts_before, jobs_before)
    textarea = html[html.index("<textarea") : html.index("</textarea>")]
    assert textarea.endswith(">") and "model_draft" not in html and "A draft by the model" not in html


def test_with_model_drafts_off_the_reply_starts_empty(drafted, client_for, admin):
    from labeling.services.model_drafts import reply_draft_settings_set

    project, lea, drafter = drafted
    reply_draft_settings_set(project=project, user=admin, enabled=False, model_version=drafter)
    assignment = claim_next_task(project=project, labeler=lea)

    html = client_for(lea).get(f"/assignments/{assignment.pk}/").content.decode()

    assert DRAFT not in html and "model_draft" not in html


def test_a_model_draft_of_another_prompt_is_refused_naming_the_field_and_nothing_is_stored(
    drafted, client_for
):
    project, lea, drafter = drafted
    assignment = claim_next_task(project=project, labeler=lea)
    other = Prompt.objects.exclude(pk=assignment.task.prompt_id).get()
    foreign = ReplyDraft.objects.create(prompt=other, model_version=drafter, text="Another prompt's draft.")
    client = client_for(lea)

    refused = client.post(f"/assignments/{assignment.pk}/write/", {"content": "x", "model_draft": foreign.pk})
    garbled = client.post(f"/assignments/{assignment.pk}/write/", {"content": "x", "model_draft": "seven"})
    autosave = client.post(
        f"/assignments/{assignment.pk}/draft/", {"content": "x", "model_draft": foreign.pk}
    )

    assert refused.status_code == 400 and "is not a draft of this task" in refused.content.decode()
    assert garbled.status_code == 400 and "whole number" in garbled.content.decode()
    assert autosave.status_code == 400 and autosave.json()["field"] == "model_draft"
    assert not Demonstration.objects.exists() and not ReplyDraftEdit.objects.exists()
    assert Task.objects.get(pk=assignment.task_id).completed_count == 0


def test_the_api_hands_out_the_draft_and_takes_its_id_with_the_reply(drafted, api):
    project, lea, _ = drafted
    client = api(lea)
    assignment = client.post(f"/api/projects/{project.pk}/next/").json()
    draft = ReplyDraft.objects.get(text=DRAFT)
    assert assignment["model_draft"] == {"id": draft.pk, "text": DRAFT, "model_version": "drafter"}

    two_turns = client.post(
        f"/api/assignments/{assignment['id']}/submit/",
        {
            "messages": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}],
            "model_draft": draft.pk,
        },
        format="json",
    )
    done = client.post(
        f"/api/assignments/{assignment['id']}/submit/",
        {"messages": [{"role": "assistant", "content": DRAFT}], "model_draft": draft.pk},
        format="json",
    )

    assert two_turns.status_code == 400 and two_turns.json()["field"] == "model_draft"
    assert done.status_code == 201
    assert ReplyDraftEdit.objects.get().unchanged is True
