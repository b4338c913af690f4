"""The assistant of a chat searches the project's documents: Coach runs the search and writes the call and
its result into the conversation; a result Coach did not write is refused; the model answers from it; the
stored conversation and the ranked turns carry the search tool."""

import io
import json

import pytest

from curation.snapshots import snapshot_freeze
from labeling.models import ChatDraft, ChatTurn, Demonstration
from labeling.search import SEARCH_TOOL
from labeling.services.corpora import corpus_upload
from labeling.services.review import review_create
from tests.factories import ask_reply, claim_chat, serve_chat_model
from trainer_bridge.exports import export_rm

OPENING = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Plan a picnic for four."}]
DOCS = [
    {
        "title": "Rain shelters",
        "url": "https://example.org/shelters",
        "text": "The park has two rain shelters.",
    },
    {"title": "Opening hours", "url": "", "text": "The park opens at eight and closes at dusk."},
    {"title": "Sourdough", "url": "", "text": "Sourdough needs a starter."},
]


@pytest.fixture
def searchable(make_project, admin):
    project = make_project(name="park chats", kinds=["chat"])
    corpus_upload(
        project=project,
        name="park",
        uploaded_by=admin,
        stream=io.BytesIO("\n".join(json.dumps(d) for d in DOCS).encode()),
    )
    return project


def test_a_search_puts_the_call_and_coachs_result_in_the_conversation_and_the_submit_keeps_them(
    searchable, add_member, api
):
    labeler = add_member(searchable, "lee")
    assignment = claim_chat(searchable, labeler)
    base = f"/api/assignments/{assignment.pk}/chat"
    searched = api(labeler).post(
        f"{base}/search/", {"messages": OPENING, "query": "rain shelter"}, format="json"
    )
    assert searched.status_code == 200, searched.json()
    messages = searched.json()["messages"]
    call, result = messages[-2:]
    assert messages[:2] == OPENING
    assert call == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "search", "arguments": {"query": "rain shelter"}},
            }
        ],
    }
    found = json.loads(result["content"])
    assert (result["role"], result["tool_call_id"]) == ("tool", "call_1")
    assert found[0] == {"ref": 1, "title": "Rain shelters", "url": DOCS[0]["url"], "text": DOCS[0]["text"]}
    assert "Sourdough" not in result["content"]
    # kept for a reload, call and result included
    assert api(labeler).get(f"{base}/").json()["messages"] == messages

    # a second search after the first result; then the assistant answers
    again = api(labeler).post(
        f"{base}/search/", {"messages": messages, "query": "opening hours"}, format="json"
    )
    messages = again.json()["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert messages[4]["tool_calls"][0]["id"] == "call_2"
    answer = {"role": "assistant", "content": "Go before dusk; the park has two rain shelters if it rains."}
    submitted = api(labeler).post(
        f"/api/assignments/{assignment.pk}/submit/", {"messages": [*messages, answer]}, format="json"
    )
    assert submitted.status_code == 201, submitted.json()
    stored = Demonstration.objects.get()
    assert stored.messages == [*messages, answer] and stored.tools == [SEARCH_TOOL]


@pytest.mark.parametrize(
    ("change", "says"),
    [  # applied to [system, user, search call, search result, answer]
        (
            lambda m: m[3].update(content='[{"ref": 1, "title": "Made up", "text": "It never rains."}]'),
            "unchanged",
        ),
        (lambda m: m[2]["tool_calls"][0]["function"]["arguments"].update(query="other"), "unchanged"),
        (lambda m: m[3].update(tool_call_id="call_9"), "answers the call before it"),
        (
            lambda m: m[2]["tool_calls"][0]["function"].update(name="calculator"),
            "one call of the search tool",
        ),
        (lambda m: m.pop(), "the last message must be the assistant's reply"),
        (lambda m: m.pop(2), "message 2 is from the tool; the assistant speaks here"),
    ],
)
def test_a_tool_result_coach_did_not_write_is_refused_and_nothing_changes(
    searchable, add_member, api, change, says
):
    labeler = add_member(searchable, "lee")
    assignment = claim_chat(searchable, labeler)
    base = f"/api/assignments/{assignment.pk}/chat"
    messages = api(labeler).post(f"{base}/search/", {"messages": OPENING, "query": "shelter"}, format="json")
    messages = messages.json()["messages"]
    kept = ChatDraft.objects.get(assignment=assignment).messages
    finished = [*messages, {"role": "assistant", "content": "Two shelters."}]
    change(finished)
    refused = api(labeler).post(
        f"/api/assignments/{assignment.pk}/submit/", {"messages": finished}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["field"] == "messages"
    assert says in refused.json()["detail"]
    if "last message" not in says:  # a conversation waiting for the assistant's answer is kept as is
        saved = api(labeler).put(f"{base}/", {"messages": finished}, format="json")
        assert saved.status_code == 400 and says in saved.json()["detail"]
        assert ChatDraft.objects.get(assignment=assignment).messages == kept
    assert not Demonstration.objects.exists()


def test_without_documents_there_is_nothing_to_search_and_a_tool_turn_is_refused(
    make_project, add_member, api
):
    project = make_project(name="plain chats", kinds=["chat"])
    labeler = add_member(project, "lee")
    assignment = claim_chat(project, labeler)
    base = f"/api/assignments/{assignment.pk}/chat"
    none = api(labeler).post(f"{base}/search/", {"messages": OPENING, "query": "shelter"}, format="json")
    assert none.status_code == 400 and none.json()["field"] == "query"
    assert "no documents to search" in none.json()["detail"]
    forged = [
        *OPENING,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "search", "arguments": {"query": "x"}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "name": "search", "content": "[]"},
    ]
    refused = api(labeler).put(f"{base}/", {"messages": forged}, format="json")
    assert refused.status_code == 400 and "a search run on this chat" in refused.json()["detail"]
    empty = api(labeler).post(f"{base}/search/", {"messages": OPENING, "query": "  "}, format="json")
    assert empty.status_code == 400 and empty.json()["field"] == "query"


def test_the_model_answers_from_the_search_result_and_the_ranked_turn_exports_with_the_tool(
    searchable, add_member, api, admin, chat_model_server, tiny_model_dir, tmp_path
):
    serve_chat_model(searchable, admin, chat_model_server, tiny_model_dir, k=3)
    labeler = add_member(searchable, "lee")
    assignment = claim_chat(searchable, labeler)
    base = f"/api/assignments/{assignment.pk}/chat"
    client = api(labeler)
    searched = client.post(f"{base}/search/", {"messages": OPENING, "query": "rain shelter"}, format="json")
    messages = searched.json()["messages"]

    reply = ask_reply(client, f"{base}/reply/", messages)
    assert reply.status_code == 201, reply.json()
    turn = ChatTurn.objects.get(pk=reply.json()["chat_turn"])
    assert turn.prompt.messages == messages  # the model answered the conversation with the search in it
    said = [*messages, {"role": "assistant", "content": reply.json()["content"], "chat_turn": turn.pk}]
    alternatives = client.post(f"{base}/alternatives/", {"messages": said, "index": 4}, format="json")
    assert alternatives.status_code == 201, alternatives.json()
    ids = [c["id"] for c in alternatives.json()["candidates"]]
    assert (
        client.post(
            f"{base}/turns/{turn.pk}/ranking/", {"tiers": [[i] for i in ids]}, format="json"
        ).status_code
        == 201
    )
    best = next(c["text"] for c in alternatives.json()["candidates"] if c["id"] == ids[0])
    final = [*messages, {"role": "assistant", "content": best, "chat_turn": turn.pk}]
    assert (
        client.post(
            f"/api/assignments/{assignment.pk}/submit/", {"messages": final}, format="json"
        ).status_code
        == 201
    )
    review_create(assignment_id=assignment.pk, reviewer=admin, verdict="accept")

    snapshot = snapshot_freeze(project=searchable, name="with searches", validation_fraction=0.0, seed=1)
    pairs = [
        json.loads(line)
        for line in export_rm(snapshot=snapshot, path=tmp_path / "p.jsonl").path.read_text().splitlines()
    ]
    assert len(pairs) == 3
    for pair in pairs:
        assert pair["prompt"] == messages and pair["tools"] == [SEARCH_TOOL]
        assert json.loads(pair["prompt"][3]["content"])[0]["title"] == "Rain shelters"
