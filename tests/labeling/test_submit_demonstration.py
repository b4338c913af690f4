import pytest

from labeling.models import Demonstration
from labeling.services.imports import prompts_import
from tests.factories import jsonl

SEARCH_TOOL = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]


@pytest.fixture
def demo_client(make_project, add_member, api):
    def make(kind: str = "demonstration"):
        project = make_project(name=kind, kinds=[kind])
        prompts_import(
            project=project,
            fmt="jsonl",
            stream=jsonl(
                [
                    {
                        "messages": [
                            {"role": "system", "content": "Be brief."},
                            {"role": "user", "content": "Capital of Peru?"},
                        ]
                    }
                ]
            ),
        )
        client = api(add_member(project, "lea"))
        return client, client.post(f"/api/projects/{project.pk}/next/").json()

    return make


def test_a_demonstration_stores_the_whole_conversation_with_time_and_paste(demo_client):
    client, body = demo_client()
    reply = [{"role": "assistant", "content": "Lima."}]
    response = client.post(
        f"/api/assignments/{body['id']}/submit/",
        {"messages": reply, "seconds": 30, "pasted_chars": 2},
        format="json",
    )
    assert response.status_code == 201
    demonstration = Demonstration.objects.get()
    assert [m["role"] for m in demonstration.messages] == ["system", "user", "assistant"]
    assert demonstration.pasted_chars == 2 and demonstration.seconds == 30


def test_a_search_conversation_keeps_tool_calls_and_results(demo_client):
    client, body = demo_client("search")
    reply = [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "search", "arguments": {"query": "capital of Peru"}},
                }
            ],
        },
        {"role": "tool", "name": "search", "content": "[1] Lima is the capital of Peru."},
        {"role": "assistant", "content": "Lima [1]."},
    ]
    response = client.post(
        f"/api/assignments/{body['id']}/submit/", {"messages": reply, "tools": SEARCH_TOOL}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Demonstration.objects.get().messages[2]["tool_calls"][0]["function"]["name"] == "search"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ([], "non-empty"),
        ([{"role": "user", "content": "hi"}], "assistant"),
        ([{"role": "assistant", "content": "   "}], "empty"),
        ([{"role": "assistant", "content": "ok", "mood": "happy"}], "unknown keys"),
        ([{"role": "robot", "content": "ok"}], "role"),
    ],
)
def test_a_bad_reply_is_refused_and_stores_nothing(demo_client, reply, message):
    client, body = demo_client()
    response = client.post(f"/api/assignments/{body['id']}/submit/", {"messages": reply}, format="json")
    assert response.status_code == 400 and message in response.json()["detail"]
    assert response.json()["field"] == "messages"
    assert not Demonstration.objects.exists()


def test_a_search_conversation_without_a_search_is_refused(demo_client):
    client, body = demo_client("search")
    response = client.post(
        f"/api/assignments/{body['id']}/submit/",
        {"messages": [{"role": "assistant", "content": "Lima."}]},
        format="json",
    )
    assert response.status_code == 400 and "search tool" in response.json()["detail"]
