"""Admin pages of cleaning: overview and thresholds, duplicate clusters, flags, evaluation sets."""

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.forms import errors_on, refusal_context, upload_within_limit
from core.pages import flash_errors
from core.types import AuthedRequest
from curation.cleaning import services
from curation.cleaning.selectors import (
    cleaning_settings_get,
    current_flags,
    flag_counts,
    latest_run,
    message_text,
    quality_thresholds_for,
)
from curation.cleaning.services import (
    cleaning_run,
    cleaning_settings_update,
    eval_set_upload,
)
from curation.cleaning.text_quality import QualityThresholds
from curation.models import CleaningFilter, CleaningFlag, CleaningTarget, DuplicateCluster, EvalSet, KeepRule
from labeling.access import project_for, project_nav
from labeling.conversation import prompt_text
from labeling.models import Demonstration, Project, Prompt, Role

View = Callable[..., HttpResponse]
FLAGS_PER_PAGE = 100
CLUSTERS_PER_PAGE = 50
PREVIEW_CHARS = 300


def _project(request: AuthedRequest, project_id: int) -> tuple[Project, dict[str, Any]]:
    project, role = project_for(request.user, project_id, Role.ADMIN)
    return project, project_nav(project, role, "curation")


def _overview_url(request: AuthedRequest, project_id: int) -> str:
    return reverse("curation:overview", args=[project_id])


# The quality thresholds, one field each: a label, and for a share its upper bound of 1.
THRESHOLD_LABELS: dict[str, str] = {
    "min_words": "Fewest words",
    "max_words": "Most words",
    "min_mean_word_length": "Shortest mean word length",
    "max_mean_word_length": "Longest mean word length",
    "max_hash_to_word_ratio": "Most # symbols per word",
    "max_ellipsis_to_word_ratio": "Most ellipses per word",
    "max_bullet_line_fraction": "Most lines starting with a bullet (share)",
    "max_ellipsis_line_fraction": "Most lines ending with an ellipsis (share)",
    "min_alpha_word_fraction": "Fewest words with a letter (share)",
    "min_stop_words": "Fewest stop words",
    "max_duplicate_line_fraction": "Most repeated lines (share of lines)",
    "max_duplicate_line_char_fraction": "Most repeated lines (share of characters)",
    "max_duplicate_paragraph_fraction": "Most repeated paragraphs (share of paragraphs)",
    "max_duplicate_paragraph_char_fraction": "Most repeated paragraphs (share of characters)",
    "max_top_ngram_char_fraction": "Most frequent {n}-gram (share of characters)",
    "max_duplicate_ngram_char_fraction": "Repeated {n}-grams (share of characters)",
    "min_terminal_punctuation_line_fraction": "Fewest lines ending in punctuation (share)",
    "flag_lorem_ipsum": "Flag lorem ipsum",
    "flag_curly_brace": "Flag curly braces",
}
SHARES = {"fraction", "ratio"}


def _threshold_fields(current: QualityThresholds) -> dict[str, forms.Field]:
    """A form field per quality threshold (one per n for the n-gram tables); empty switches it off."""
    found: dict[str, forms.Field] = {}
    for spec in fields(QualityThresholds):
        label = THRESHOLD_LABELS.get(spec.name, spec.name.replace("_", " ").capitalize())
        kind = str(spec.type)
        share = bool(SHARES & set(spec.name.split("_")))
        if kind == "bool":
            found[spec.name] = forms.BooleanField(label=label, required=False)
        elif kind.startswith("Mapping"):
            value = getattr(current, spec.name) or {}
            default = getattr(QualityThresholds(), spec.name) or {}
            for n in sorted(set(default) | set(value)):
                found[f"{spec.name}_{n}"] = forms.FloatField(
                    label=label.format(n=n), required=False, min_value=0.0, max_value=1.0
                )
        elif kind.startswith("int"):
            found[spec.name] = forms.IntegerField(
                label=label, required=False, min_value=0, max_value=2**31 - 1
            )
        else:
            found[spec.name] = forms.FloatField(
                label=label, required=False, min_value=0.0, max_value=1.0 if share else None
            )
    return found


def _threshold_initial(current: QualityThresholds) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    for name, value in current.to_dict().items():
        if isinstance(value, dict):
            initial |= {f"{name}_{n}": share for n, share in value.items()}
        else:
            initial[name] = value
    return initial


class SettingsForm(forms.Form):
    near_duplicate_threshold = forms.FloatField(
        min_value=0.05, max_value=1.0, help_text="minimum word 5-gram Jaccard of a near duplicate"
    )
    keep_rule = forms.ChoiceField(
        choices=KeepRule.choices, help_text="which member of a duplicate cluster stays"
    )
    decontam_long_ngram = forms.IntegerField(
        min_value=1, max_value=100, label="Decontamination n (long texts)"
    )
    decontam_short_ngram = forms.IntegerField(
        min_value=1, max_value=100, label="Decontamination n (short texts)"
    )
    decontam_short_text_words = forms.IntegerField(
        min_value=1, max_value=2**31 - 1, label="Short text: fewer words than"
    )
    phone_region = forms.RegexField(regex=r"^[A-Za-z]{2}$", help_text="country for numbers without +code")

    def __init__(self, *args: Any, thresholds: QualityThresholds, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.threshold_names = list(_threshold_fields(thresholds))
        self.fields |= _threshold_fields(thresholds)

    def settings_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name not in self.threshold_names]

    def threshold_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.threshold_names]

    def clean(self) -> dict[str, Any]:
        """The thresholds gathered into the dict the service stores (n-gram tables keyed by n)."""
        data = super().clean() or {}
        thresholds: dict[str, Any] = {}
        for spec in fields(QualityThresholds):
            if str(spec.type).startswith("Mapping"):
                table = {
                    int(name.rsplit("_", 1)[1]): data.pop(name)
                    for name in list(data)
                    if name.startswith(spec.name + "_") and name.rsplit("_", 1)[1].isdigit()
                }
                kept = {n: share for n, share in table.items() if share is not None}
                thresholds[spec.name] = kept or None
            elif spec.name in data:
                thresholds[spec.name] = data.pop(spec.name)
        data["quality_thresholds"] = thresholds
        return data


class EvalSetForm(forms.Form):
    name = forms.CharField(max_length=200)
    file = forms.FileField(
        help_text='JSONL: one {"id": ..., "text": ...} per line (or prompt, question, messages)',
        validators=[upload_within_limit],
    )


def _settings_form(project: Project, data: Any = None) -> SettingsForm:
    settings = cleaning_settings_get(project=project)
    thresholds = quality_thresholds_for(settings)
    initial = {
        "near_duplicate_threshold": settings.near_duplicate_threshold,
        "keep_rule": settings.keep_rule,
        "decontam_long_ngram": settings.decontam_long_ngram,
        "decontam_short_ngram": settings.decontam_short_ngram,
        "decontam_short_text_words": settings.decontam_short_text_words,
        "phone_region": settings.phone_region,
    } | _threshold_initial(thresholds)
    return SettingsForm(data, initial=initial, thresholds=thresholds)


def _overview(
    request: AuthedRequest, project: Project, nav: dict[str, Any], form: SettingsForm, status: int = 200
):
    counts = flag_counts(project=project)
    context = nav | {
        "form": form,
        "form_errors": " ".join(
            f"{form[name].label if name in form.fields else 'Thresholds'}: {error}"
            for name, errors in form.errors.items()
            for error in errors
        ),
        "filters": CleaningFilter.choices,
        "filter_rows": [
            {"value": value, "label": label} | counts[value] for value, label in CleaningFilter.choices
        ],
        "latest_run": latest_run(project=project),
    }
    return render(request, "curation/overview.html", context, status=status)


@login_required
@require_GET
def overview(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, nav = _project(request, project_id)
    return _overview(request, project, nav, _settings_form(project))


@login_required
@require_POST
def settings_update(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, nav = _project(request, project_id)
    form = _settings_form(project, request.POST)
    if not form.is_valid():
        return _overview(request, project, nav, form, status=400)
    with errors_on(form):
        cleaning_settings_update(project=project, **form.cleaned_data)
        messages.success(request, "Thresholds saved; they apply from the next cleaning run.")
        return redirect("curation:overview", project_id=project.pk)
    return _overview(request, project, nav, form, status=400)


@login_required
@require_POST
@flash_errors(_overview_url)
def run(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, _ = _project(request, project_id)
    chosen = request.POST.getlist("filters") or None
    done = cleaning_run(project=project, filters=chosen, created_by=request.user)
    flagged = sum(c["prompts"] + c["demonstrations"] for c in done.counts.values())
    messages.success(request, f"Cleaning run #{done.pk}: {flagged} flagged prompts and demonstrations.")
    return redirect("curation:overview", project_id=project.pk)


def _texts(target: str, ids: set[int]) -> dict[int, str]:
    if target == CleaningTarget.PROMPT:
        prompts = Prompt.objects.filter(pk__in=ids).values_list("id", "messages")
        return {pk: prompt_text(m) for pk, m in prompts}
    replies = Demonstration.objects.filter(pk__in=ids).values_list("id", "messages")
    return {pk: message_text(m, ("assistant",)) for pk, m in replies}


@login_required
@require_GET
def duplicates(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, nav = _project(request, project_id)
    clusters = DuplicateCluster.objects.filter(project=project).order_by("target", "id")
    page = Paginator(clusters, CLUSTERS_PER_PAGE).get_page(request.GET.get("page"))
    ids: dict[str, set[int]] = {CleaningTarget.PROMPT: set(), CleaningTarget.DEMONSTRATION: set()}
    for cluster in page:
        ids[cluster.target].update(cluster.member_ids)
    texts = {target: _texts(target, members) for target, members in ids.items()}
    shown = []
    for cluster in page:
        best: dict[int, float] = {}
        for a, b, similarity in cluster.pairs:
            best[a] = max(best.get(a, 0.0), similarity)
            best[b] = max(best.get(b, 0.0), similarity)
        members = [
            {
                "id": m,
                "kept": m == cluster.kept_id,
                "jaccard": best.get(m),
                "text": texts[cluster.target].get(m, "")[:PREVIEW_CHARS],
            }
            for m in cluster.member_ids
        ]
        shown.append({"cluster": cluster, "members": members})
    return render(request, "curation/duplicates.html", nav | {"clusters": shown, "page": page})


@login_required
@require_POST
def cluster_keep(request: AuthedRequest, project_id: int, cluster_id: int) -> HttpResponse:
    project, _ = _project(request, project_id)
    cluster = get_object_or_404(DuplicateCluster, project=project, pk=cluster_id)
    try:
        keep_id = int(request.POST.get("keep", ""))
        services.cluster_keep(cluster=cluster, keep_id=keep_id)
    except ValueError:
        return HttpResponse("keep must be the id of a cluster member", status=400, content_type="text/plain")
    except DomainError as exc:
        return HttpResponse(exc.detail, status=400, content_type="text/plain")
    messages.success(request, f"Cluster #{cluster.pk} now keeps {cluster.target} {keep_id}.")
    return redirect("curation:duplicates", project_id=project.pk)


@login_required
@require_GET
def flags(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, nav = _project(request, project_id)
    chosen = request.GET.get("filter") or None
    if chosen is not None and chosen not in CleaningFilter.values:
        return HttpResponse(
            f"unknown filter; choose from {', '.join(CleaningFilter.values)}",
            status=400,
            content_type="text/plain",
        )
    found = current_flags(project=project, filters=[chosen] if chosen else None)
    page = Paginator(found, FLAGS_PER_PAGE).get_page(request.GET.get("page"))
    prompts = _texts(CleaningTarget.PROMPT, {f.prompt_id for f in page if f.prompt_id})
    answers = _texts(CleaningTarget.DEMONSTRATION, {f.demonstration_id for f in page if f.demonstration_id})

    def shown(flag: CleaningFlag) -> str:
        if flag.filter == CleaningFilter.PII:  # a PII flag shows the scrubbed text, never the personal data
            return flag.details.get("scrubbed") or ""
        if flag.prompt_id:
            return prompts.get(flag.prompt_id, "")
        return answers.get(flag.demonstration_id or 0, "")

    rows = [
        {
            "flag": f,
            "target": "prompt" if f.prompt_id else "demonstration",
            "target_id": f.prompt_id or f.demonstration_id,
            "text": shown(f)[:PREVIEW_CHARS],
        }
        for f in page
    ]
    context = nav | {"rows": rows, "page": page, "filters": CleaningFilter.choices, "chosen": chosen}
    return render(request, "curation/flags.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def eval_sets(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, nav = _project(request, project_id)
    form = EvalSetForm(request.POST or None, request.FILES or None)
    context = nav | {"form": form, "error": "", "lines": [], "total_errors": 0}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                uploaded = eval_set_upload(
                    project=project,
                    name=form.cleaned_data["name"],
                    stream=form.cleaned_data["file"],
                    uploaded_by=request.user,
                )
            except DomainError as exc:
                context |= refusal_context(exc)
                status = 409 if exc.status == 409 else 400
            else:
                messages.success(
                    request,
                    f"Evaluation set {uploaded.name}: {uploaded.item_count} texts stored. "
                    "Run the contamination filter to flag the prompts that overlap with it.",
                )
                return redirect("curation:eval-sets", project_id=project.pk)
        else:
            status = 400
    contaminated = current_flags(project=project, filters=[CleaningFilter.CONTAMINATION])
    prompts = _texts(CleaningTarget.PROMPT, {f.prompt_id for f in contaminated[:500] if f.prompt_id})
    context |= {
        "eval_sets": EvalSet.objects.filter(project=project)
        .select_related("uploaded_by")
        .order_by("-created_at"),
        "report": [
            {"flag": f, "text": prompts.get(f.prompt_id or 0, "")[:PREVIEW_CHARS]} for f in contaminated[:500]
        ],
        "report_total": contaminated.count(),
    }
    return render(request, "curation/eval_sets.html", context, status=status)


@login_required
@require_POST
def eval_set_delete(request: AuthedRequest, project_id: int, eval_set_id: int) -> HttpResponse:
    project, _ = _project(request, project_id)
    found = get_object_or_404(EvalSet, project=project, pk=eval_set_id)
    services.eval_set_delete(eval_set=found)
    messages.success(request, f"Evaluation set {found.name} deleted with its contamination flags.")
    return redirect("curation:eval-sets", project_id=project.pk)
