"""Quality pages: agreement, labeler scores, refusal probes and practice sets. Reviewers read; admins act."""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.charts import bar_chart, histogram
from core.errors import DomainError, NotAllowed, NotFound
from core.forms import upload_within_limit
from curation import labeler_quality, practice, probing
from curation.agreement import project_agreement
from curation.practice_models import PracticeRun, PracticeSet, ProbeRun, ProbeSet
from labeling.access import RANK, project_for, project_nav
from labeling.models import Role
from labeling.services.imports import ImportRejected
from trainer_bridge.registry import models_for

# --- forms -----------------------------------------------------------------------------------------


class UploadForm(forms.Form):
    name = forms.CharField(max_length=200)
    file = forms.FileField(help_text="JSONL, one object per line", validators=[upload_within_limit])


class GoldRateForm(forms.Form):
    gold_rate = forms.FloatField(
        min_value=0.0, max_value=1.0, help_text="share of ranking tasks that are gold"
    )


class GoldAnswerForm(forms.Form):
    task = forms.IntegerField(min_value=1, help_text="a ranking task id")
    tiers = forms.JSONField(
        help_text="the reference ranking: tiers of candidate ids, best first, e.g. [[3], [1, 2]]"
    )


class RunForm(forms.Form):
    model_version = forms.TypedChoiceField(coerce=int, choices=[])
    samples = forms.IntegerField(min_value=1, max_value=64, initial=8)
    max_new_tokens = forms.IntegerField(min_value=1, max_value=4096, initial=128)
    temperature = forms.FloatField(min_value=0.0, max_value=5.0, initial=1.0)
    seed = forms.IntegerField(min_value=0, max_value=2**63 - 1, initial=0)

    def __init__(self, *args: Any, versions: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.versions = {v.pk: v for v in versions}
        self.fields["model_version"].choices = [(v.pk, str(v)) for v in versions]


class ProbeRunForm(RunForm):
    judge = forms.ChoiceField(choices=[(name, name) for name in probing.JUDGES], initial="containment")


def _admin(role: str) -> bool:
    return RANK[role] >= RANK[Role.ADMIN]


def _require_admin(role: str) -> None:
    if not _admin(role):
        raise NotAllowed("this needs the admin role in the project")


# --- agreement and labelers ------------------------------------------------------------------------


@login_required
def agreement(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.REVIEWER)
    metric = request.GET.get("metric", "ordinal")
    if metric not in ("ordinal", "interval", "nominal"):
        metric = "ordinal"
    report = project_agreement(project=project, metric=metric)
    context = project_nav(project, role, "quality") | {
        "report": report,
        "metric": metric,
        "pairs_chart": bar_chart(
            [(row.username, row.pairs.share) for row in report.labelers],
            title="Pairwise agreement with others",
        ),
        "consensus_chart": bar_chart(
            [(row.username, row.consensus_pairs.share) for row in report.labelers],
            title="Agreement with the others' consensus",
        ),
        "tasks_chart": histogram(report.task_shares, title="Tasks by share of agreeing pairs"),
        "labeler_pairs": sorted(report.labeler_pairs.items()),
    }
    return render(request, "curation/quality/agreement.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def labelers(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.REVIEWER)
    posted = request.POST if request.method == "POST" else None
    form = GoldRateForm(
        posted if posted and "gold_rate" in posted else None, initial={"gold_rate": project.gold_rate}
    )
    gold_form = GoldAnswerForm(posted if posted and "tiers" in posted else None)
    if request.method == "POST":
        _require_admin(role)
        if form.is_valid():
            labeler_quality.gold_rate_set(project=project, rate=form.cleaned_data["gold_rate"])
            messages.success(request, "Gold rate saved.")
            return redirect("quality:labelers", project_id=project.pk)
        if gold_form.is_valid():
            task = project.tasks.filter(pk=gold_form.cleaned_data["task"]).first()
            if task is None:
                raise NotFound("no such task in this project")
            labeler_quality.gold_answer_set(
                task=task, tiers=gold_form.cleaned_data["tiers"], set_by=request.user
            )
            messages.success(request, f"Gold ranking of task {task.pk} saved.")
            return redirect("quality:labelers", project_id=project.pk)
    rows = labeler_quality.labeler_quality(project=project)
    context = project_nav(project, role, "quality") | {
        "rows": rows,
        "form": form,
        "gold_form": gold_form,
        "is_admin": _admin(role),
        "weights": labeler_quality.WEIGHTS,
        "gold_tasks": project.tasks.filter(is_gold=True).count(),
        "score_chart": bar_chart([(q.username, q.score) for q in rows], title="Labeler score"),
    }
    status = 400 if form.errors or gold_form.errors else 200
    return render(request, "curation/quality/labelers.html", context, status=status)


# --- probe and practice sets -----------------------------------------------------------------------

_SETS = {
    "probe": (ProbeSet, probing.probe_set_upload, "quality:probes", "quality:probe-set"),
    "practice": (PracticeSet, practice.practice_set_upload, "quality:practice-sets", "quality:practice-set"),
}


def _sets_page(request: HttpRequest, project_id: int, kind: str) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.REVIEWER)
    model, upload, list_url, _ = _SETS[kind]
    form = UploadForm(request.POST or None, request.FILES or None)
    context = project_nav(project, role, "quality") | {"form": form, "kind": kind, "is_admin": _admin(role)}
    status = 200
    if request.method == "POST":
        _require_admin(role)
        if form.is_valid():
            try:
                made = upload(
                    project=project,
                    name=form.cleaned_data["name"],
                    stream=form.cleaned_data["file"],
                    uploaded_by=request.user,
                )
            except ImportRejected as exc:
                context |= {"error": exc.detail, "lines": exc.extra["lines"], "total_errors": len(exc.errors)}
                status = 400
            except DomainError as exc:
                context["error"] = exc.detail
                status = 400
            else:
                messages.success(request, f"{made.name} stored.")
                return redirect(list_url, project_id=project.pk)
        else:
            status = 400
    context["sets"] = (
        model.objects.filter(project=project).select_related("uploaded_by").order_by("-created_at")
    )
    return render(request, "curation/quality/sets.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def probes(request: HttpRequest, project_id: int) -> HttpResponse:
    return _sets_page(request, project_id, "probe")


@login_required
@require_http_methods(["GET", "POST"])
def practice_sets(request: HttpRequest, project_id: int) -> HttpResponse:
    return _sets_page(request, project_id, "practice")


def _start_run(request: HttpRequest, kind: str, the_set: Any, form: RunForm) -> ProbeRun | PracticeRun:
    version = form.versions[form.cleaned_data["model_version"]]
    common = {
        "model_name": version.candidate_model_name,
        "model_path": version.path,
        "model_version_id": version.pk,
        "samples": form.cleaned_data["samples"],
        "max_new_tokens": form.cleaned_data["max_new_tokens"],
        "temperature": form.cleaned_data["temperature"],
        "seed": form.cleaned_data["seed"],
        "created_by": request.user,
    }
    if kind == "probe":
        return probing.probe_run_start(probe_set=the_set, judge=form.cleaned_data["judge"], **common)
    return practice.practice_run_start(practice_set=the_set, **common)


def _set_page(request: HttpRequest, project_id: int, set_id: int, kind: str) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.REVIEWER)
    model, _, _, detail_url = _SETS[kind]
    the_set = model.objects.filter(project=project, pk=set_id).first()
    if the_set is None:
        raise NotFound(f"no such {kind} set")
    form_class = ProbeRunForm if kind == "probe" else RunForm
    form = form_class(request.POST or None, versions=list(models_for(project=project)))
    if request.method == "POST":
        _require_admin(role)
        if form.is_valid():
            run = _start_run(request, kind, the_set, form)
            messages.success(request, f"Run {run.pk} queued on the GPU workers.")
            return redirect(detail_url, project_id=project.pk, set_id=the_set.pk)
    runs = list(the_set.runs.order_by("-created_at"))
    shown = next((r for r in runs if str(r.pk) == request.GET.get("run")), runs[0] if runs else None)
    context = project_nav(project, role, "quality") | {
        "kind": kind,
        "set": the_set,
        "form": form,
        "is_admin": _admin(role),
        "runs": runs,
        "run": shown,
    }
    if kind == "probe":
        context["items"] = the_set.questions.order_by("line")
        if shown is not None:
            context["outcomes"] = probing.probe_outcomes(run=shown)
    else:
        context["items"] = the_set.problems.order_by("line")
        if shown is not None:
            results = list(shown.results.select_related("problem").order_by("problem__line"))
            context["results"] = results
            context["difficulty_chart"] = histogram(
                [r.pass_rate for r in results], title="Problems by pass rate"
            )
    return render(request, f"curation/quality/{kind}_set.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def probe_set(request: HttpRequest, project_id: int, set_id: int) -> HttpResponse:
    return _set_page(request, project_id, set_id, "probe")


@login_required
@require_http_methods(["GET", "POST"])
def practice_set(request: HttpRequest, project_id: int, set_id: int) -> HttpResponse:
    return _set_page(request, project_id, set_id, "practice")
