"""What a chat task becomes in a dataset: its conversation as an SFT row, each ranked turn as reward-model
pairs whose prompt is exactly the conversation prefix, one split per conversation, the lineage of each
candidate, and cleaning (personal data scrubbed) as for every other row."""

import json

import pytest

from curation.cleaning.services import cleaning_run
from curation.selectors import snapshot_rows
from curation.snapshots import snapshot_freeze
from labeling.models import Candidate, ChatTurn
from labeling.services.review import review_create
from tests.factories import ask_reply, claim_chat, serve_chat_model
from trainer_bridge.exports import export_rm, export_sft

OPENING = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Plan a picnic for four."}]


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def chat_snapshot(make_project, add_member, api, admin, chat_model_server, tiny_model_dir):
    project = make_project(name="chats", kinds=["chat"])
    serve_chat_model(project, admin, chat_model_server, tiny_model_dir, k=3)
    labeler = add_member(project, "lee")
    assignment = claim_chat(project, labeler)
    base = f"/api/assignments/{assignment.pk}/chat"
    client = api(labeler)

    def reply_and_rank(conversation: list[dict], best_last: bool) -> tuple[list[dict], int]:
        reply = ask_reply(client, f"{base}/reply/", conversation).json()
        said = [
            *conversation,
            {"role": "assistant", "content": reply["content"], "chat_turn": reply["chat_turn"]},
        ]
        index = len(said) - 1
        alternatives = client.post(f"{base}/alternatives/", {"messages": said, "index": index}, format="json")
        ids = [c["id"] for c in alternatives.json()["candidates"]]
        tiers = [[ids[-1]], ids[:-1]] if best_last else [[i] for i in ids]  # with a tie, then without
        ranked = client.post(f"{base}/turns/{reply['chat_turn']}/ranking/", {"tiers": tiers}, format="json")
        assert ranked.status_code == 201, ranked.json()
        best = Candidate.objects.get(pk=tiers[0][0]).text
        return [*conversation, {"role": "assistant", "content": best, "chat_turn": reply["chat_turn"]}], index

    conversation, first = reply_and_rank(OPENING, best_last=True)
    conversation[first]["content"] = "Sandwiches, fruit and a blanket."  # the chosen reply, edited
    conversation.append({"role": "user", "content": "Send the list to lee.picnic@example.com please."})
    conversation, second = reply_and_rank(conversation, best_last=False)
    submitted = client.post(
        f"/api/assignments/{assignment.pk}/submit/", {"messages": conversation}, format="json"
    )
    assert submitted.status_code == 201
    review_create(assignment_id=assignment.pk, reviewer=admin, verdict="accept")
    cleaning_run(project=project)
    snapshot = snapshot_freeze(project=project, name="chats", validation_fraction=0.5, seed=3)
    return snapshot, conversation, (first, second)


def test_each_ranked_turn_gives_pairs_whose_prompt_is_exactly_the_conversation_prefix(
    chat_snapshot, tmp_path
):
    snapshot, conversation, (first, second) = chat_snapshot
    pairs = read_jsonl(export_rm(snapshot=snapshot, path=tmp_path / "pairs.jsonl").path)
    by_prompt: dict[str, list[dict]] = {}
    for pair in pairs:
        by_prompt.setdefault(json.dumps(pair["prompt"], sort_keys=True), []).append(pair)
    assert len(pairs) == 2 + 3  # a best reply over a tie of two; then three in a strict order
    plain = [{"role": m["role"], "content": m["content"]} for m in conversation]
    first_prefix = plain[:first]
    second_prefix = plain[:second]
    # the edited reply stands in the later prefix; personal data is scrubbed there as everywhere
    second_prefix[-1]["content"] = "Send the list to <EMAIL> please."
    assert sorted(by_prompt) == sorted(json.dumps(p, sort_keys=True) for p in (first_prefix, second_prefix))
    assert [len(by_prompt[json.dumps(first_prefix, sort_keys=True)]), len(pairs)] == [2, 5]
    assert all(p["chosen"][0]["role"] == "assistant" and p["chosen"] != p["rejected"] for p in pairs)
    rows = list(snapshot_rows(snapshot=snapshot, kinds=["ranking"]))
    for row in rows:
        for candidate in row["candidates"]:
            assert candidate["model_version_id"] and "seed" in candidate["sampling_params"]
        assert row["chat_turn"]["index_in_conversation"] in (first, second)


def test_the_sft_row_holds_the_final_conversation_and_every_prefix_shares_its_split(chat_snapshot, tmp_path):
    snapshot, conversation, (first, _) = chat_snapshot
    (row,) = read_jsonl(export_sft(snapshot=snapshot, path=tmp_path / "sft.jsonl").path)
    plain = [{"role": m["role"], "content": m["content"]} for m in conversation]
    plain[3]["content"] = "Send the list to <EMAIL> please."  # scrubbed in the conversation too
    assert row == {"messages": plain}
    assert plain[first]["content"] == "Sandwiches, fruit and a blanket."
    rows = list(snapshot_rows(snapshot=snapshot))
    assert {r["kind"] for r in rows} == {"chat", "ranking"} and len(rows) == 3
    assert len({(r["split"], r["prompt_group"]) for r in rows}) == 1
    (chat,) = [r for r in rows if r["kind"] == "chat"]
    turns = {t["index"]: t for t in chat["chat_turns"]}
    assert set(turns) == {first, len(plain) - 1} and turns[first]["edited"] is True
    assert turns[first]["replies"] == 3 and turns[first]["model_version_id"]
    assert ChatTurn.objects.count() == 2
