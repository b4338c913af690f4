"""A reviewer reads a submitted chat whole (the opening the labeler edited included) and edits its last
reply: a new revision of the whole conversation, the labeler's first one kept."""

from labeling.models import Demonstration, Role
from labeling.services.chat import chat_submit
from tests.factories import claim_chat

CONVERSATION = [
    {"role": "system", "content": "You plan outings."},
    {"role": "user", "content": "Plan a picnic for four."},
    {"role": "assistant", "content": "Bread, cheese and fruit."},
]


def test_a_reviewer_sees_the_whole_chat_and_edits_its_last_reply(make_project, add_member, client_for):
    project = make_project(name="chats", kinds=["chat"])
    lea = add_member(project, "lea")
    assignment = claim_chat(project, lea)
    chat_submit(assignment_id=assignment.pk, labeler=lea, messages=CONVERSATION)
    client = client_for(add_member(project, "rhea", Role.REVIEWER))
    queue = client.get(f"/projects/{project.pk}/review/").content.decode()
    assert f"/review/tasks/{assignment.task_id}/" in queue
    page = client.get(f"/review/tasks/{assignment.task_id}/").content.decode()
    assert "You plan outings." in page and "Bread, cheese and fruit." in page

    client.post(f"/review/assignments/{assignment.pk}/", {"verdict": "edit", "content": "Bread and fruit."})
    revisions = list(Demonstration.objects.filter(assignment=assignment).order_by("revision"))
    assert [d.messages for d in revisions] == [
        CONVERSATION,
        [*CONVERSATION[:2], {"role": "assistant", "content": "Bread and fruit."}],
    ]
