"""Chat tasks through the API: refusals that name the field, a conversation with the tiny model (a reply,
alternatives ranked at a turn, the chosen one edited, a submit), and what is stored of it."""

import pytest

from labeling.models import Candidate, ChatCall, ChatDraft, ChatTurn, Demonstration, Prompt, Ranking, Task
from labeling.services.chat import chat_settings_set
from tests.factories import ask_reply, claim_chat, import_prompts, serve_chat_model

OPENING = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Plan a picnic for four."}]


@pytest.fixture
def chat_project(make_project):
    return make_project(name="chats", kinds=["chat", "demonstration"], overlap=3)


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        ([{"role": "assistant", "content": "Hi"}], "the user speaks here"),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "message 1 is from the user"),
        ([*OPENING, {"role": "system", "content": "again"}], "only the first message may be the system"),
        ([*OPENING, {"role": "tool", "content": "{}"}], "message 2 is from the tool; the assistant speaks"),
        ([*OPENING, {"role": "critic", "content": "{}"}], "a chat holds system, user, assistant"),
        ([*OPENING, {"role": "assistant", "content": "   "}], "message 2 (assistant) is empty"),
        ([*OPENING, {"role": "assistant", "content": "x" * 200_001}], "more than 200,000 characters"),
        (
            [*OPENING, {"role": "assistant", "content": "ok", "chat_turn": 999999}],
            "not a model turn of this chat",
        ),
        (OPENING, "the last message must be the assistant's reply"),
        ("not a list", "messages must be a list"),
    ],
)
def test_a_bad_conversation_is_refused_naming_the_field_and_nothing_is_stored(
    chat_project, add_member, api, messages, says
):
    labeler = add_member(chat_project, "lee")
    assignment = claim_chat(chat_project, labeler)
    answer = api(labeler).post(
        f"/api/assignments/{assignment.pk}/submit/", {"messages": messages}, format="json"
    )
    assert answer.status_code == 400, answer.json()
    assert answer.json()["field"] == "messages" and says in answer.json()["detail"]
    assert not Demonstration.objects.exists()
    assert (
        api(labeler)
        .put(
            f"/api/assignments/{assignment.pk}/chat/",
            {"messages": [{"role": "bot", "content": "x"}]},
            format="json",
        )
        .json()["field"]
        == "messages"
    )
    assert not ChatDraft.objects.exists()


def test_playing_both_roles_stores_the_whole_conversation_once_with_overlap_one(
    chat_project, add_member, api
):
    labeler = add_member(chat_project, "lee")
    assignment = claim_chat(chat_project, labeler)
    assert assignment.task.required_count == 1  # a conversation is one person's, whatever the overlap
    conversation = [
        {"role": "system", "content": "You plan outings."},
        {"role": "user", "content": "Plan a picnic for four."},
        {"role": "assistant", "content": "Bread, cheese, fruit and a blanket."},
        {"role": "user", "content": "And if it rains?"},
        {"role": "assistant", "content": "Take it under a shelter, or move it indoors."},
    ]
    saved = api(labeler).put(
        f"/api/assignments/{assignment.pk}/chat/", {"messages": conversation[:3]}, format="json"
    )
    assert saved.status_code == 200
    assert api(labeler).get(f"/api/assignments/{assignment.pk}/chat/").json()["messages"] == conversation[:3]
    url = f"/api/assignments/{assignment.pk}/submit/"
    first = api(labeler).post(url, {"messages": conversation, "seconds": 40}, format="json")
    again = api(labeler).post(url, {"messages": conversation, "seconds": 40}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["kind"] == "chat" and first.json()["messages"] == conversation
    assert Demonstration.objects.get().messages == conversation
    assert Task.objects.get(pk=assignment.task_id).status == "done"


def test_with_no_model_served_the_labeler_is_told_and_the_conversation_is_kept(
    chat_project, add_member, api, admin
):
    from tests.factories import register_versions

    labeler = add_member(chat_project, "lee")
    assignment = claim_chat(chat_project, labeler)
    asked = [*OPENING, {"role": "assistant", "content": "Sure."}, {"role": "user", "content": "Where?"}]
    reply = f"/api/assignments/{assignment.pk}/chat/reply/"
    none_chosen = api(labeler).post(reply, {"messages": asked}, format="json")
    assert none_chosen.status_code == 503 and "write both roles yourself" in none_chosen.json()["detail"]
    (version,) = register_versions("not-served")
    chat_settings_set(project=chat_project, user=admin, model_version=version)
    down = api(labeler).post(reply, {"messages": asked}, format="json")
    assert down.status_code == 503 and "not being served right now" in down.json()["detail"]
    assert ChatDraft.objects.get(assignment=assignment).messages == asked  # kept for the reload
    assert not ChatTurn.objects.exists()


def test_only_admins_set_the_chat_model_and_k_is_two_to_nine(chat_project, add_member, admin):
    from core.errors import DomainError, NotAllowed

    labeler = add_member(chat_project, "lee")
    with pytest.raises(NotAllowed):
        chat_settings_set(project=chat_project, user=labeler, model_version=None)
    with pytest.raises(DomainError) as refused:
        chat_settings_set(project=chat_project, user=admin, model_version=None, k=10)
    assert refused.value.field == "k"


def test_talking_to_the_model_ranking_alternatives_and_editing_the_chosen_reply(
    chat_project, add_member, api, admin, chat_model_server, tiny_model_dir
):
    version = serve_chat_model(
        chat_project, admin, chat_model_server, tiny_model_dir, k=3, calls_per_minute=12
    )
    labeler = add_member(chat_project, "lee")
    assignment = claim_chat(chat_project, labeler)
    # An imported prompt with the very text of the prefix the model will answer: a different prompt.
    import_prompts(chat_project, ["Plan a picnic for four."], "demonstration")
    base = f"/api/assignments/{assignment.pk}/chat"

    replied = ask_reply(api(labeler), f"{base}/reply/", OPENING)
    assert replied.status_code == 201, replied.json()
    turn_id, first_text = replied.json()["chat_turn"], replied.json()["content"]
    assert api(labeler).get(f"{base}/").json()["messages"] == [
        *OPENING,
        {"role": "assistant", "content": first_text, "chat_turn": turn_id},
    ]
    conversation = [*OPENING, {"role": "assistant", "content": first_text, "chat_turn": turn_id}]
    alternatives = api(labeler).post(
        f"{base}/alternatives/", {"messages": conversation, "index": 2}, format="json"
    )
    assert alternatives.status_code == 201, alternatives.json()
    assert alternatives.json()["chat_turn"] == turn_id
    candidates = alternatives.json()["candidates"]
    assert len(candidates) == 3 and first_text in [c["text"] for c in candidates]

    bad = api(labeler).post(
        f"{base}/turns/{turn_id}/ranking/", {"tiers": [[candidates[0]["id"]]]}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["field"] == "tiers"
    worst_first = [[c["id"]] for c in candidates]
    ranked = api(labeler).post(f"{base}/turns/{turn_id}/ranking/", {"tiers": worst_first}, format="json")
    assert ranked.status_code == 201
    chosen = candidates[0]["text"]
    assert api(labeler).get(f"{base}/").json()["messages"][-1]["content"] == chosen

    edited = "A blanket, sandwiches and lemonade for four."
    conversation = [
        *OPENING,
        {"role": "assistant", "content": edited, "chat_turn": turn_id},
        {"role": "user", "content": "And if it rains?"},
    ]
    second = ask_reply(api(labeler), f"{base}/reply/", conversation)
    assert second.status_code == 201
    conversation.append(
        {"role": "assistant", "content": second.json()["content"], "chat_turn": second.json()["chat_turn"]}
    )
    # The rate limit: twelve calls a minute, whatever each gave (a retried empty reply counts too).
    assert ChatCall.objects.filter(labeler=labeler).count() >= 3
    while ChatCall.objects.filter(labeler=labeler).count() < 12:
        api(labeler).post(f"{base}/reply/", {"messages": conversation[:-1]}, format="json")
    limited = api(labeler).post(f"{base}/reply/", {"messages": conversation[:-1]}, format="json")
    assert limited.status_code == 429 and "at most 12 calls to the model a minute" in limited.json()["detail"]

    submitted = api(labeler).post(
        f"/api/assignments/{assignment.pk}/submit/", {"messages": conversation}, format="json"
    )
    assert submitted.status_code == 201, submitted.json()
    assert Demonstration.objects.get().messages[2]["content"] == edited
    assert "chat_turn" not in Demonstration.objects.get().messages[2]

    turn = ChatTurn.objects.get(pk=turn_id)
    assert (turn.final_index, turn.final_text, turn.chosen.text) == (2, edited, chosen)
    ranking = Ranking.objects.get(chat_turn=turn)
    assert ranking.assignment_id == assignment.pk and ranking.tiers == worst_first
    assert turn.prompt.messages == OPENING and turn.prompt.source == "chat"
    imported = Prompt.objects.get(external_id="demonstration-0")
    assert imported.messages == [OPENING[1]] and imported.pk != turn.prompt_id
    for candidate in Candidate.objects.filter(prompt=turn.prompt):
        assert candidate.model_version == version
        assert candidate.sampling_params["temperature"] == 1.0 and "seed" in candidate.sampling_params
    assert not Task.objects.filter(prompt=turn.prompt).exists()  # no ranking task is made of a prefix


def test_a_second_labeler_may_not_touch_anothers_chat(chat_project, add_member, api):
    owner = add_member(chat_project, "lee")
    other = add_member(chat_project, "max")
    assignment = claim_chat(chat_project, owner)
    answer = api(other).put(f"/api/assignments/{assignment.pk}/chat/", {"messages": OPENING}, format="json")
    assert answer.status_code == 403
