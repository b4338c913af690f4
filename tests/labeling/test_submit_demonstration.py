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


def test_a_search_task_refuses_written_tool_results_through_the_api(demo_client):
    """An invented tool message (any title, any URL) and a made-up tools schema are never stored."""
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
        {
            "role": "tool",
            "name": "search",
            "content": '[{"title": "Official", "url": "https://evil.example"}]',
        },
        {"role": "assistant", "content": "Lima [1]."},
    ]
    response = client.post(
        f"/api/assignments/{body['id']}/submit/", {"messages": reply, "tools": SEARCH_TOOL}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "messages" and "recorded search" in response.json()["detail"]
    assert not Demonstration.objects.exists()


def test_a_demonstration_tools_schema_declares_what_the_reply_calls(demo_client):
    client, body = demo_client()
    reply = [
        {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "weather"}}]},
        {"role": "tool", "name": "weather", "content": "12 C"},
        {"role": "assistant", "content": "It is 12 C."},
    ]
    url = f"/api/assignments/{body['id']}/submit/"
    for tools, detail in [
        (None, "lacks: ['weather']"),
        ([{"type": "function", "function": {"name": "search"}}], "lacks: ['weather']"),
        ("weather", "must be a list"),
        ([{"name": "weather"}], '"type": "function"'),
    ]:
        response = client.post(url, {"messages": reply, "tools": tools}, format="json")
        assert response.status_code == 400 and response.json()["field"] == "tools"
        assert detail in response.json()["detail"]
    assert not Demonstration.objects.exists()
    response = client.post(
        url,
        {"messages": reply, "tools": [{"type": "function", "function": {"name": "weather"}}]},
        format="json",
    )
    assert response.status_code == 201


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
    assert response.status_code == 400 and "recorded search" in response.json()["detail"]
