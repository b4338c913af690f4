"""The Quality tab's model drafts page: per labeler and per model version, the share of drafts submitted
unchanged and the median edit distances; the switch and model version, set by admins only."""

import pytest
from django.test import Client

from curation.quality.drafts import draft_edit_report
from labeling.models import Prompt, ReplyDraft, ReplyDraftSettings
from labeling.services.annotations import demonstration_submit
from labeling.services.queue import claim_next_task
from registry.models import ModelVersion
from tests.factories import seed_demonstrations

# (labeler, model, draft, final): ann keeps A's first draft and changes one word of its second ("four" →
# "five": 3 characters); bob adds " gamma" to B's first draft (6 characters, 1 word) and keeps its second.
EDITS = [
    ("ann", "A", "The answer is yes.", "The answer is yes."),
    ("ann", "A", "one two three four", "one two three five"),
    ("bob", "B", "alpha beta", "alpha beta gamma"),
    ("bob", "B", "Kept as written.", "Kept as written."),
]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def edited(make_project, add_member):
    project = make_project(kinds=["demonstration"])
    seed_demonstrations(project, len(EDITS))
    models = {name: ModelVersion.objects.create(name=name, kind="base", path="/nowhere") for name in "AB"}
    people = {name: add_member(project, name) for name in ("ann", "bob")}
    for prompt, (who, model, draft, final) in zip(Prompt.objects.order_by("pk"), EDITS, strict=True):
        reply_draft = ReplyDraft.objects.create(prompt=prompt, model_version=models[model], text=draft)
        assignment = claim_next_task(project=project, labeler=people[who])
        assert assignment.task.prompt_id == prompt.pk
        demonstration_submit(
            assignment_id=assignment.pk,
            labeler=people[who],
            messages=[{"role": "assistant", "content": final}],
            model_draft=reply_draft.pk,
        )
    return project, models


def test_the_figures_per_labeler_and_per_model_version(edited):
    project, _ = edited

    report = draft_edit_report(project=project)

    by_labeler = {row.name: row for row in report.by_labeler}
    assert {n: (r.replies, r.unchanged, r.median_chars, r.median_words) for n, r in by_labeler.items()} == {
        "ann": (2, 1, 1.5, 0.5),
        "bob": (2, 1, 3.0, 0.5),
    }
    by_model = {row.name: (row.replies, row.unchanged_share, row.median_chars) for row in report.by_model}
    assert by_model == {"A": (2, 0.5, 1.5), "B": (2, 0.5, 3.0)}
    assert (report.overall.replies, report.overall.unchanged, report.overall.median_chars) == (4, 2, 1.5)
    # word edits over the longer text's tokens: 0, 1 of 4, 1 of 3, 0
    assert sorted(report.word_shares) == pytest.approx([0, 0, 0.25, 1 / 3])


def test_a_reviewer_reads_the_figures_on_the_quality_tab(edited, add_member):
    project, _ = edited
    rhea = add_member(project, "rhea", role="reviewer")

    response = _client(rhea).get(f"/projects/{project.pk}/quality/drafts/")

    html = response.content.decode()
    assert response.status_code == 200
    ann = html[html.index('data-name="ann"') :]
    ann = ann[: ann.index("</tr>")]
    assert "50%" in ann and "1.5" in ann and "0.5" in ann
    model_b = html[html.index('data-name="B"') :]
    assert "3</td>" in model_b[: model_b.index("</tr>")]
    assert "Replies by share of the draft" in html and "Drafts submitted unchanged, per labeler" in html
    assert "<form" not in html[html.index("data-draft-settings") : html.index("</section>")]  # admins only


def test_an_admin_switches_drafts_on_with_a_model_version(edited, admin):
    project, models = edited
    client = _client(admin)

    response = client.post(
        f"/projects/{project.pk}/quality/drafts/",
        {"enabled": "on", "model_version": models["B"].pk, "max_new_tokens": 300, "temperature": 0.5},
    )

    assert response.status_code == 302
    settings = ReplyDraftSettings.objects.get(project=project)
    assert (settings.enabled, settings.model_version, settings.max_new_tokens) == (True, models["B"], 300)
    assert "<strong>On</strong>" in client.get(f"/projects/{project.pk}/quality/drafts/").content.decode()


@pytest.mark.parametrize(
    ("post", "field", "says"),
    [
        ({"enabled": "on", "max_new_tokens": 300, "temperature": 0.5}, "model_version", "choose the model"),
        ({"max_new_tokens": 0, "temperature": 0.5}, "max_new_tokens", "greater than or equal to 1"),
        ({"max_new_tokens": 10, "temperature": "hot"}, "temperature", "Enter a number"),
        ({"model_version": 999999, "max_new_tokens": 10, "temperature": 1}, "model_version", "valid choice"),
    ],
)
def test_bad_settings_are_refused_with_a_400_naming_the_field(edited, admin, post, field, says):
    project, _ = edited

    response = _client(admin).post(f"/projects/{project.pk}/quality/drafts/", post)

    html = response.content.decode()
    assert response.status_code == 400
    assert says in html
    assert f'id="id_{field}"' in html[html.index("has-error") :]  # the error sits on that field
    assert not ReplyDraftSettings.objects.filter(project=project).exists()


def test_a_reward_model_is_refused_as_the_drafts_writer_through_the_api(edited, admin, api):
    project, models = edited
    rm = ModelVersion.objects.create(name="judge", kind="rm", path="/nowhere", parent=models["A"])

    response = api(admin).put(
        f"/api/projects/{project.pk}/reply-draft-settings/",
        {"enabled": True, "model_version": rm.pk},
        format="json",
    )

    assert response.status_code == 400 and response.json()["field"] == "model_version"
    assert not ReplyDraftSettings.objects.filter(project=project).exists()


def test_a_reviewer_may_not_change_the_settings(edited, add_member):
    project, models = edited
    rhea = add_member(project, "rhea", role="reviewer")

    response = _client(rhea).post(
        f"/projects/{project.pk}/quality/drafts/",
        {"enabled": "on", "model_version": models["A"].pk, "max_new_tokens": 10, "temperature": 1},
    )

    assert response.status_code == 403
    assert not ReplyDraftSettings.objects.filter(project=project).exists()
