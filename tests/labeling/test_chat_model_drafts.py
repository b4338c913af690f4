"""A chat of a project with model drafts on starts with the assistant's first answer pre-filled from the
draft a drafting job wrote for the opening; the submit records how far the labeler moved from it, and the
export pairs the edited answer over the draft with the opening as the prompt."""

import json

from curation.snapshots import snapshot_freeze
from labeling.models import ReplyDraft, ReplyDraftEdit
from labeling.services.review import review_create
from tests.factories import claim_chat, seed_model_drafts
from trainer_bridge.exports.core import run_export

OPENING = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Plan a picnic for four."}]
DRAFT = "Bring bread and cheese."
EDITED = "Bring bread, cheese and a blanket."


def test_the_first_answer_starts_from_the_draft_and_the_edit_is_recorded_and_exported(
    make_project, add_member, admin, api, tmp_path
):
    project = make_project(name="drafted chats", kinds=["chat"])
    labeler = add_member(project, "lee")
    assignment = claim_chat(project, labeler)
    drafter = seed_model_drafts(project, admin, [DRAFT])
    draft = ReplyDraft.objects.get()
    base = f"/api/assignments/{assignment.pk}/chat"
    opened = api(labeler).get(f"{base}/").json()["messages"]
    assert opened == [*OPENING, {"role": "assistant", "content": DRAFT, "model_draft": draft.pk}]

    conversation = [
        *OPENING,
        {"role": "assistant", "content": EDITED, "model_draft": draft.pk},
        {"role": "user", "content": "And if it rains?"},
        {"role": "assistant", "content": "Move under the trees."},
    ]
    saved = api(labeler).put(f"{base}/", {"messages": conversation[:3]}, format="json")
    assert saved.status_code == 200 and api(labeler).get(f"{base}/").json()["messages"] == conversation[:3]
    foreign = ReplyDraft.objects.create(
        prompt=claim_chat(project, add_member(project, "max"), "Name a fruit.").task.prompt,
        model_version=drafter,
        text="An apple.",
    )
    forged = [*conversation[:2], conversation[2] | {"model_draft": foreign.pk}, *conversation[3:]]
    refused = api(labeler).post(
        f"/api/assignments/{assignment.pk}/submit/", {"messages": forged}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["field"] == "model_draft"
    assert not ReplyDraftEdit.objects.exists()

    submitted = api(labeler).post(
        f"/api/assignments/{assignment.pk}/submit/", {"messages": conversation}, format="json"
    )
    assert submitted.status_code == 201, submitted.json()
    assert "model_draft" not in submitted.json()["messages"][2]  # the conversation is stored in HF form
    edit = ReplyDraftEdit.objects.get()
    assert (edit.reply_draft, edit.final_text, edit.unchanged) == (draft, EDITED, False)
    # worked by hand: 16 characters; over tokens, "and" becomes "," and "and a blanket" comes in: 4
    assert (edit.char_distance, edit.word_distance) == (16, 4)

    review_create(assignment_id=assignment.pk, reviewer=admin, verdict="accept")
    snapshot = snapshot_freeze(project=project, name="drafted", validation_fraction=0.0, seed=1)
    path = tmp_path / "rm.jsonl"
    run_export(snapshot=snapshot, kind="rm", path=path, options={"edited_over_draft": True})
    (pair,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert pair["prompt"] == OPENING and pair["source"] == "edited_over_draft"
    assert (pair["chosen"], pair["rejected"]) == (
        [{"role": "assistant", "content": EDITED}],
        [{"role": "assistant", "content": DRAFT}],
    )


def test_without_a_draft_written_yet_the_chat_opens_as_imported(make_project, add_member, admin, api):
    project = make_project(name="drafted chats", kinds=["chat"])
    seed_model_drafts(project, admin, [])  # drafts on, none written yet
    labeler = add_member(project, "lee")
    assignment = claim_chat(project, labeler)
    assert api(labeler).get(f"/api/assignments/{assignment.pk}/chat/").json()["messages"] == OPENING
