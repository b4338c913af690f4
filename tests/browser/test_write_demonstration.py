import re

import pytest

from labeling.models import Demonstration
from tests.browser.ui import login, shot
from tests.factories import seed_demonstrations

pytestmark = pytest.mark.django_db(transaction=True)

PASTE = """
(text) => {
  const data = new DataTransfer();
  data.setData("text/plain", text);
  document.querySelector("[data-reply]").dispatchEvent(
    new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
}
"""


def test_write_a_demonstration_reload_mid_way_and_find_the_draft(page, make_project, add_member):
    project = make_project(kinds=["demonstration"])
    seed_demonstrations(project, 2)
    add_member(project, "lea")
    login(page, "lea")
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url(re.compile(r"/assignments/\d+/$"))
    assignment_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])

    reply = page.locator("[data-reply]")
    reply.press_sequentially("The history in brief: ", delay=5)
    page.evaluate(PASTE, "it began in 1850")  # counted as pasted; the text itself is typed below
    reply.press_sequentially("it began in 1850.")
    page.wait_for_function(
        "() => document.querySelector('[data-save-status]').textContent.includes('saved at')"
    )
    assert "began in 1850" in page.locator("#reply-preview").inner_text()
    shot(page, "05-demonstration-draft")

    page.reload()
    assert page.locator("[data-reply]").input_value() == "The history in brief: it began in 1850."
    assert page.locator("[data-pasted]").input_value() == "16"

    page.locator("[data-reply]").press("End")
    page.keyboard.type(" It grew after 1900.")
    # the page counts the seconds it is on screen; let at least one pass before submitting
    page.wait_for_function("() => parseFloat(document.querySelector('[data-seconds]').value) >= 1")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"() => document.querySelector('#task').dataset.assignment !== '{assignment_id}'")

    demonstration = Demonstration.objects.get(assignment_id=assignment_id)
    assert (
        demonstration.messages[-1]["content"] == "The history in brief: it began in 1850. It grew after 1900."
    )
    assert demonstration.pasted_chars == 16 and demonstration.seconds >= 1
