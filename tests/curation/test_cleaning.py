"""Cleaning a project: flags with explanations, clusters with a keep rule, eval sets, snapshots."""

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from curation.cleaning.selectors import cleaning_settings_get, quality_thresholds_for
from curation.cleaning.services import (
    EvalSetRejected,
    cleaning_run,
    cleaning_settings_update,
    cluster_keep,
    eval_set_upload,
)
from curation.models import CleaningFlag, DuplicateCluster, EvalSet
from curation.selectors import snapshot_rows
from curation.snapshots import snapshot_freeze
from labeling.models import Prompt
from tests.factories import import_prompts, rank_all, review_all

LONG = (
    "Explain how the water cycle moves water between the oceans, the air and the land, "
    "and why mountains get more rain than the valleys around them"
)
PROMPTS = [
    LONG,
    "How do I bake sourdough bread at home with a starter?",
    "how do i bake SOURDOUGH bread at home, with a starter!!",
    LONG.replace("around them", "around it"),
    "Email me at jane.doe@example.org about the refund for my order.",
    "Natalia sold clips to 48 of her friends in April and then she sold half as many in May.",
    "ok ok ok ok",
    "Explain what <script>alert('x')</script> does in an HTML page",
]


def prompt_id(project, text):
    return Prompt.objects.get(project=project, messages__0__content=text).pk


def flags_of(project, text, filter_name=None):
    flags = CleaningFlag.objects.filter(prompt_id=prompt_id(project, text))
    return list(flags.filter(filter=filter_name) if filter_name else flags)


def upload(project, admin, lines, name="gsm8k"):
    stream = io.BytesIO("\n".join(lines).encode())
    return eval_set_upload(project=project, name=name, stream=stream, uploaded_by=admin)


@pytest.fixture
def labeled(make_project, add_member, admin):
    """A demonstration project whose prompts are all answered and accepted."""
    project = make_project(kinds=["demonstration"])
    import_prompts(project, PROMPTS, "demonstration")
    lea, rita = add_member(project, "lea"), add_member(project, "rita", "reviewer")
    review_all(rank_all(project, lea), rita, "accept")
    upload(project, admin, [json.dumps({"id": "q1", "question": PROMPTS[5]})])
    return project


def test_normalized_copies_are_exact_duplicates_of_the_first(labeled):
    cleaning_run(project=labeled)

    (flag,) = flags_of(labeled, PROMPTS[2], "exact_duplicate")
    kept = prompt_id(labeled, PROMPTS[1])
    assert flag.details["kept"] == kept
    assert flag.explanation.startswith(f"duplicate of prompt {kept} (the same text once case")
    assert flags_of(labeled, PROMPTS[1], "exact_duplicate") == []


def test_a_one_word_edit_is_a_near_duplicate_confirmed_by_jaccard(labeled):
    cleaning_run(project=labeled)

    (flag,) = flags_of(labeled, PROMPTS[3], "near_duplicate")
    assert 0.8 <= flag.details["jaccard"] < 1
    cluster = flag.cluster
    assert cluster.kept_id == prompt_id(labeled, LONG) and cluster.keep_rule == "first"
    assert sorted(cluster.member_ids) == sorted([prompt_id(labeled, LONG), prompt_id(labeled, PROMPTS[3])])


def test_a_cluster_flags_each_member_as_an_exact_or_a_near_copy_of_the_kept_one(make_project):
    project = make_project(name="mixed", kinds=["demonstration"])
    import_prompts(
        project, [LONG, LONG.upper() + "!", LONG.replace("around them", "around it")], "demonstration"
    )
    cleaning_run(project=project, filters=["near_duplicate"])

    (cluster,) = DuplicateCluster.objects.filter(project=project)
    assert cluster.kept_id == prompt_id(project, LONG)
    assert [f.filter for f in flags_of(project, LONG.upper() + "!")] == ["exact_duplicate"]
    assert [f.filter for f in flags_of(project, LONG.replace("around them", "around it"))] == [
        "near_duplicate"
    ]


def test_demonstrations_are_deduplicated_too(labeled):
    cleaning_run(project=labeled, filters=["exact_duplicate"])

    targets = set(DuplicateCluster.objects.filter(project=labeled).values_list("target", flat=True))
    assert targets == {"prompt", "demonstration"}  # the answers quote the prompts they answer


def test_the_longest_keep_rule_and_a_higher_threshold(labeled):
    settings = dict(
        quality_thresholds={},
        decontam_long_ngram=13,
        decontam_short_ngram=8,
        decontam_short_text_words=50,
        phone_region="US",
    )
    cleaning_settings_update(project=labeled, near_duplicate_threshold=0.95, keep_rule="longest", **settings)
    cleaning_run(project=labeled, filters=["exact_duplicate", "near_duplicate"])

    assert flags_of(labeled, PROMPTS[3], "near_duplicate") == []
    (flag,) = flags_of(labeled, PROMPTS[1], "exact_duplicate")
    assert flag.details["kept"] == prompt_id(labeled, PROMPTS[2])  # longer by its punctuation


def test_an_admin_can_keep_another_member(labeled):
    cleaning_run(project=labeled, filters=["exact_duplicate"])
    (flag,) = flags_of(labeled, PROMPTS[2], "exact_duplicate")

    cluster_keep(cluster=flag.cluster, keep_id=prompt_id(labeled, PROMPTS[2]))

    assert flags_of(labeled, PROMPTS[2]) == []
    (moved,) = flags_of(labeled, PROMPTS[1], "exact_duplicate")
    assert "chosen by an admin" in moved.explanation


def test_quality_flags_follow_the_project_thresholds(labeled):
    cleaning_run(project=labeled, filters=["quality"])
    names = {f.name for f in flags_of(labeled, PROMPTS[6], "quality")}
    assert "top_2gram" in names

    cleaning_settings_update(
        project=labeled,
        near_duplicate_threshold=0.8,
        keep_rule="first",
        quality_thresholds={"min_words": 12, "min_stop_words": None, "max_top_ngram_char_fraction": None},
        decontam_long_ngram=13,
        decontam_short_ngram=8,
        decontam_short_text_words=50,
        phone_region="US",
    )
    cleaning_run(project=labeled, filters=["quality"])
    (flag,) = flags_of(labeled, PROMPTS[1], "quality")
    assert flag.explanation == "word count is 11, below the minimum 12"
    assert "top_2gram" not in {f.name for f in flags_of(labeled, PROMPTS[6], "quality")}


def test_a_rerun_replaces_a_filters_flags_instead_of_adding(labeled):
    cleaning_run(project=labeled)
    first = CleaningFlag.objects.filter(project=labeled).count()
    run = cleaning_run(project=labeled)
    assert CleaningFlag.objects.filter(project=labeled).count() == first > 0
    assert run.counts["exact_duplicate"] == {"prompts": 1, "demonstrations": 1}


def test_pii_is_flagged_without_storing_it_and_scrubbed_in_snapshots(labeled):
    cleaning_run(project=labeled, filters=["pii"])
    (flag,) = flags_of(labeled, PROMPTS[4], "pii")
    assert flag.name == "EMAIL"
    assert "jane.doe" not in json.dumps(flag.details)

    snapshot = snapshot_freeze(project=labeled, name="v1")
    (row,) = [r for r in snapshot_rows(snapshot=snapshot) if r["prompt_id"] == flag.prompt_id]
    assert row["prompt"][-1]["content"] == "Email me at <EMAIL> about the refund for my order."
    assert "jane.doe" not in json.dumps(row["messages"])  # the answer quotes the prompt
    assert snapshot.manifest["cleaning"]["rows_scrubbed_pii"] == 1


def test_prompts_sharing_a_run_with_an_eval_set_are_flagged_with_a_report(labeled):
    cleaning_run(project=labeled, filters=["contamination"])
    (flag,) = CleaningFlag.objects.filter(project=labeled, filter="contamination")
    assert flag.prompt_id == prompt_id(labeled, PROMPTS[5])
    assert flag.details["eval_set"] == "gsm8k" and flag.details["eval_line"] == 1
    assert flag.details["ngram"] == 8
    assert flag.details["matched"].startswith("natalia sold clips to 48 of her")


def test_a_snapshot_leaves_flagged_rows_out_and_says_what_each_filter_removed(labeled):
    cleaning_run(project=labeled)
    snapshot = snapshot_freeze(project=labeled, name="clean")

    cleaning = snapshot.manifest["cleaning"]
    assert cleaning["applied"] == ["exact_duplicate", "near_duplicate", "quality", "pii", "contamination"]
    assert cleaning["rows_removed"]["exact_duplicate"] == 1
    assert cleaning["rows_removed"]["near_duplicate"] == 1
    assert cleaning["rows_removed"]["contamination"] == 1
    kept = {row["prompt_id"] for row in snapshot_rows(snapshot=snapshot)}
    assert prompt_id(labeled, PROMPTS[2]) not in kept
    assert prompt_id(labeled, PROMPTS[5]) not in kept
    assert prompt_id(labeled, PROMPTS[1]) in kept


def test_a_snapshot_may_apply_no_filter(labeled):
    cleaning_run(project=labeled)
    snapshot = snapshot_freeze(project=labeled, name="raw", cleaning=[])
    assert snapshot.row_count == len(PROMPTS)
    assert snapshot.manifest["cleaning"]["applied"] == []


def test_a_bad_eval_file_names_its_lines_and_stores_nothing(labeled, admin):
    lines = [
        json.dumps({"text": "fine"}),
        "{not json",
        json.dumps({"answer": "no text"}),
        json.dumps({"text": 3}),
    ]
    with pytest.raises(EvalSetRejected) as rejected:
        upload(labeled, admin, lines, name="broken")
    assert [(e["line"], e["reason"][:12]) for e in rejected.value.extra["lines"]] == [
        (2, "invalid JSON"),
        (3, "no text: giv"),
        (4, "text must be"),
    ]
    assert not EvalSet.objects.filter(name="broken").exists()


# --- pages and command ----------------------------------------------------------------------------


def test_admin_pages_render_and_escape_what_they_show(labeled, client, admin):
    upload(labeled, admin, [json.dumps({"text": PROMPTS[7]})], name="<b>html</b> eval")
    cleaning_run(project=labeled)
    client.force_login(admin)
    for name in ("overview", "duplicates", "flags", "eval-sets"):
        response = client.get(reverse(f"curation:{name}", args=[labeled.pk]))
        assert response.status_code == 200, name
    report = client.get(reverse("curation:eval-sets", args=[labeled.pk])).content.decode()
    assert "gsm8k, line 1" in report
    assert "&lt;b&gt;html&lt;/b&gt; eval, line 1" in report
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in report
    assert "<script>alert(" not in report and "<b>html" not in report


@pytest.mark.parametrize("role", ["labeler", "reviewer"])
def test_members_below_admin_get_403(labeled, client, add_member, role):
    member = add_member(labeled, f"someone-{role}", role)
    client.force_login(member)
    assert client.get(reverse("curation:overview", args=[labeled.pk])).status_code == 403
    assert client.post(reverse("curation:run", args=[labeled.pk])).status_code == 403
    assert not CleaningFlag.objects.exists()


def test_posts_need_the_csrf_token(labeled, admin):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    assert browser.post(reverse("curation:run", args=[labeled.pk])).status_code == 403


def test_running_from_the_page_flags_and_an_admin_keeps_another_member(labeled, client, admin):
    client.force_login(admin)
    response = client.post(reverse("curation:run", args=[labeled.pk]), {"filters": ["exact_duplicate"]})
    assert response.status_code == 302
    (flag,) = flags_of(labeled, PROMPTS[2], "exact_duplicate")
    url = reverse("curation:cluster-keep", args=[labeled.pk, flag.cluster_id])
    assert client.post(url, {"keep": "nope"}).status_code == 400
    assert client.post(url, {"keep": str(prompt_id(labeled, PROMPTS[2]))}).status_code == 302
    assert flags_of(labeled, PROMPTS[1], "exact_duplicate")


def test_a_bad_upload_page_lists_line_numbers_and_stores_nothing(labeled, client, admin):
    client.force_login(admin)
    bad = io.BytesIO(b'{"text": "fine"}\n[1, 2]\n')
    bad.name = "eval.jsonl"
    response = client.post(reverse("curation:eval-sets", args=[labeled.pk]), {"name": "bad", "file": bad})
    assert response.status_code == 400
    page = response.content.decode()
    assert '<td class="num">2</td><td>each line must be a JSON object</td>' in page
    assert not EvalSet.objects.filter(name="bad").exists()


SETTINGS = {
    "near_duplicate_threshold": "0.8",
    "keep_rule": "first",
    "decontam_long_ngram": "13",
    "decontam_short_ngram": "8",
    "decontam_short_text_words": "50",
    "phone_region": "US",
}


def test_the_thresholds_are_a_form_with_a_field_each_and_an_empty_one_switches_its_check_off(
    labeled, client, admin
):
    client.force_login(admin)
    page = client.get(reverse("curation:overview", args=[labeled.pk])).content.decode()
    assert 'name="quality_thresholds"' not in page  # no raw JSON box
    assert '<label for="id_min_words">Fewest words</label>' in page
    assert 'name="max_top_ngram_char_fraction_3" value="0.18"' in page

    response = client.post(
        reverse("curation:settings", args=[labeled.pk]),
        SETTINGS
        | {
            "min_words": "12",
            "max_words": "",
            "min_mean_word_length": "2.5",
            "max_top_ngram_char_fraction_2": "",
            "max_top_ngram_char_fraction_3": "",
            "max_top_ngram_char_fraction_4": "0.3",
            "flag_curly_brace": "on",
        },
    )

    assert response.status_code == 302
    thresholds = quality_thresholds_for(cleaning_settings_get(project=labeled))
    assert (thresholds.min_words, thresholds.max_words, thresholds.min_mean_word_length) == (12, None, 2.5)
    assert thresholds.max_top_ngram_char_fraction == {4: 0.3}
    assert thresholds.max_duplicate_ngram_char_fraction is None  # every box of the table left empty
    assert (thresholds.flag_curly_brace, thresholds.flag_lorem_ipsum) == (True, False)


def test_a_bad_threshold_is_refused_naming_its_field(labeled, client, admin):
    client.force_login(admin)
    response = client.post(
        reverse("curation:settings", args=[labeled.pk]), SETTINGS | {"max_ellipsis_line_fraction": "2"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert (
        "Nothing was saved: Most lines ending with an ellipsis (share): "
        "Ensure this value is less than or equal to 1.0." in page
    )


def test_the_filters_to_run_sit_beside_their_labels(labeled, client, admin):
    client.force_login(admin)
    page = client.get(reverse("curation:overview", args=[labeled.pk])).content.decode()
    assert '<fieldset class="checks"><legend>Run filters</legend>' in page


def test_the_curate_command_runs_the_filters_with_a_progress_bar(labeled, capsys):
    call_command("curate", "--project", labeled.name, "--filters", "exact_duplicate,pii")
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["flagged"]["exact_duplicate"] == {"prompts": 1, "demonstrations": 1}
    assert summary["flagged"]["pii"]["prompts"] == 1
    assert "dedup prompts: 100%" in captured.err
