"""Probe and practice set pages: upload a set (curation), run it against a model version (a job), read a
run's outcomes, and export a practice set (a job). Reviewers read and export; admins upload and run."""

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.charts import histogram
from core.errors import DomainError, NotAllowed, NotFound
from core.forms import id_or_error, refusal_context, upload_within_limit
from core.pages import flash_errors
from core.types import AuthedRequest
from curation import practice, probes
from curation.models import PracticeSet, PracticeSplit, ProbeSet
from labeling.access import has_role, project_for, project_nav
from labeling.models import Role
from registry.models import ModelVersion
from registry.selectors import models_for
from trainer_bridge.exports import LAYOUTS, PRACTICE_KINDS
from trainer_bridge.jobs.lifecycle import JOB_ROLE
from trainer_bridge.models import ExportJob, JobStatus, PracticeRun, ProbeRun
from trainer_bridge.selectors import model_get
from trainer_bridge.services.exports import EXPORT_ROLE, export_job_payload, practice_export_job_start
from trainer_bridge.services.grpo import ALLOWED_BASES as GRPO_BASES
from trainer_bridge.services.grpo import grpo_job_start
from trainer_bridge.services.practice import practice_run_start
from trainer_bridge.services.probes import probe_outcomes, probe_run_start


class UploadForm(forms.Form):
    name = forms.CharField(max_length=200)
    file = forms.FileField(help_text="JSONL, one object per line", validators=[upload_within_limit])


class PracticeUploadForm(UploadForm):
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=practice.SEED_MAX,
        initial=0,
        help_text="of the held-out split by problem",
    )
    validation_fraction = forms.FloatField(
        required=False, min_value=0, max_value=0.99, initial=0.1, help_text="share of the problems held out"
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
        field = cast(forms.TypedChoiceField, self.fields["model_version"])
        field.choices = [(v.pk, str(v)) for v in versions]


class ProbeRunForm(RunForm):
    judge = forms.ChoiceField(choices=[(name, name) for name in probes.JUDGES], initial="containment")


def _require_admin(role: str) -> None:
    if not has_role(role, Role.ADMIN):
        raise NotAllowed("this needs the admin role in the project")


SetUpload = Callable[..., ProbeSet | PracticeSet]
_SETS: dict[str, tuple[type[ProbeSet] | type[PracticeSet], SetUpload, str, str]] = {
    "probe": (ProbeSet, probes.probe_set_upload, "jobs:probes", "jobs:probe-set"),
    "practice": (PracticeSet, practice.practice_set_upload, "jobs:practice-sets", "jobs:practice-set"),
}


def _sets_page(request: AuthedRequest, project_id: int, kind: str) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.REVIEWER)
    model, upload, list_url, _ = _SETS[kind]
    form_class = PracticeUploadForm if kind == "practice" else UploadForm
    form = form_class(request.POST or None, request.FILES or None)
    context = project_nav(project, role, "quality") | {
        "form": form,
        "kind": kind,
        "is_admin": has_role(role, Role.ADMIN),
    }
    status = 200
    if request.method == "POST":
        _require_admin(role)
        if not form.is_valid():
            status = 400
        else:
            split = {
                k: form.cleaned_data[k]
                for k in ("seed", "validation_fraction")
                if form.cleaned_data.get(k) is not None
            }
            try:
                made = upload(
                    project=project,
                    name=form.cleaned_data["name"],
                    stream=form.cleaned_data["file"],
                    uploaded_by=request.user,
                    **split,
                )
            except DomainError as exc:
                context |= refusal_context(exc)
                status = 400
            else:
                messages.success(request, f"{made.name} stored.")
                return redirect(list_url, project_id=project.pk)
    context["sets"] = (
        model.objects.filter(project=project).select_related("uploaded_by").order_by("-created_at")
    )
    return render(request, "trainer_bridge/sets/sets.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def probe_sets(request: AuthedRequest, project_id: int) -> HttpResponse:
    return _sets_page(request, project_id, "probe")


@login_required
@require_http_methods(["GET", "POST"])
def practice_sets(request: AuthedRequest, project_id: int) -> HttpResponse:
    return _sets_page(request, project_id, "practice")


def _start_run(request: AuthedRequest, kind: str, the_set: Any, form: RunForm) -> ProbeRun | PracticeRun:
    common: dict[str, Any] = {
        "model_version": form.versions[form.cleaned_data["model_version"]],
        "samples": form.cleaned_data["samples"],
        "max_new_tokens": form.cleaned_data["max_new_tokens"],
        "temperature": form.cleaned_data["temperature"],
        "seed": form.cleaned_data["seed"],
        "user": request.user,
    }
    if kind == "probe":
        return probe_run_start(probe_set=the_set, judge=form.cleaned_data["judge"], **common)
    return practice_run_start(practice_set=the_set, **common)


def _set_page(request: AuthedRequest, project_id: int, set_id: int, kind: str) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.REVIEWER)
    model, _, _, detail_url = _SETS[kind]
    the_set = model.objects.filter(project=project, pk=set_id).first()
    if the_set is None:
        raise NotFound(f"no such {kind} set")
    form_class = ProbeRunForm if kind == "probe" else RunForm
    form = form_class(request.POST or None, versions=list(models_for(project_id=project.pk)))
    if request.method == "POST":
        _require_admin(role)
        if form.is_valid():
            run = _start_run(request, kind, the_set, form)
            messages.success(request, f"Run {run.pk} queued on the GPU workers.")
            return redirect(detail_url, project_id=project.pk, set_id=the_set.pk)
    runs: list[ProbeRun] | list[PracticeRun]
    if isinstance(the_set, ProbeSet):
        runs = list(ProbeRun.objects.filter(probe_set=the_set).select_related("model_version"))
    else:
        runs = list(PracticeRun.objects.filter(practice_set=the_set).select_related("model_version"))
    runs.sort(key=lambda r: r.created_at, reverse=True)
    shown = next((r for r in runs if str(r.pk) == request.GET.get("run")), runs[0] if runs else None)
    context = project_nav(project, role, "quality") | {
        "kind": kind,
        "set": the_set,
        "form": form,
        "is_admin": has_role(role, Role.ADMIN),
        "runs": runs,
        "run": shown,
    }
    if isinstance(the_set, ProbeSet):
        context["items"] = the_set.questions.order_by("line")
        if isinstance(shown, ProbeRun):
            context["outcomes"] = probe_outcomes(run=shown)
    else:
        context["items"] = the_set.problems.order_by("line")
        context["split_counts"] = practice.split_counts(the_set)
        versions = list(models_for(project_id=project.pk))
        context["grpo_bases"] = [m for m in versions if m.kind in GRPO_BASES]
        context["grpo_reward_models"] = [m for m in versions if m.kind == ModelVersion.Kind.RM]
        context |= _practice_exports(the_set, [r for r in runs if isinstance(r, PracticeRun)], role)
        if isinstance(shown, PracticeRun):
            results = list(shown.results.select_related("problem").order_by("problem__line"))
            context["results"] = results
            context["pass_rate_by_split"] = _pass_rate_by_split(results)
            context["difficulty_chart"] = histogram(
                [r.pass_rate for r in results], title="Problems by pass rate"
            )
    status = 400 if form.errors else 200
    return render(request, f"trainer_bridge/sets/{kind}_set.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def probe_set(request: AuthedRequest, project_id: int, set_id: int) -> HttpResponse:
    return _set_page(request, project_id, set_id, "probe")


@login_required
@require_http_methods(["GET", "POST"])
def practice_set(request: AuthedRequest, project_id: int, set_id: int) -> HttpResponse:
    return _set_page(request, project_id, set_id, "practice")


def _pass_rate_by_split(results: list[Any]) -> dict[str, float | None]:
    """A run's mean pass rate over the problems of each split (None where the split has none)."""
    rates: dict[str, list[float]] = {split: [] for split in PracticeSplit.values}
    for result in results:
        rates[result.problem.split].append(result.pass_rate)
    return {split: sum(r) / len(r) if r else None for split, r in rates.items()}


def _practice_exports(the_set: PracticeSet, runs: list[PracticeRun], role: str) -> dict[str, Any]:
    """The export form's choices and the set's export jobs, for those who may export."""
    if not has_role(role, EXPORT_ROLE):
        return {}
    jobs = ExportJob.objects.filter(practice_set=the_set).select_related("practice_set", "created_by")
    return {
        "export_kinds": PRACTICE_KINDS,
        "export_layouts": LAYOUTS,
        "export_runs": [r for r in runs if r.status == JobStatus.DONE],
        "exports": [
            (
                job,
                export_job_payload(
                    job, download_url=reverse("trainer_bridge:export-download", args=[job.pk])
                ),
            )
            for job in jobs.order_by("-created_at", "-id")[:20]
        ],
    }


def _practice_set_url(request: AuthedRequest, project_id: int, set_id: int) -> str:
    return reverse("jobs:practice-set", args=[project_id, set_id])


@login_required
@require_POST
@flash_errors(_practice_set_url)
def practice_export_start(request: AuthedRequest, project_id: int, set_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, EXPORT_ROLE)[0]
    the_set = PracticeSet.objects.filter(project=project, pk=set_id).first()
    if the_set is None:
        raise NotFound("no such practice set")
    run = None
    if run_id := request.POST.get("run"):
        run = PracticeRun.objects.filter(practice_set=the_set, pk=id_or_error(run_id, "run")).first()
        if run is None:
            raise DomainError("that run is not a run of this practice set", field="run")
    options = {key: request.POST.get(key) for key in ("format", "split", "layout")}
    job, created = practice_export_job_start(
        practice_set=the_set, kind=request.POST.get("kind", ""), run=run, options=options, user=request.user
    )
    if created:
        messages.success(request, f"Export {job.pk} queued.")
    else:
        messages.info(request, "The same export exists already; here it is.")
    return redirect("jobs:practice-set", project_id=project.pk, set_id=the_set.pk)


GRPO_FIELDS = ("max_steps", "num_generations", "lr", "beta", "patience")


@login_required
@require_POST
@flash_errors(_practice_set_url)
def grpo_start(request: AuthedRequest, project_id: int, set_id: int) -> HttpResponse:
    """Start GRPO on the practice set from the form on its page."""
    project = project_for(request.user, project_id, JOB_ROLE)[0]
    the_set = PracticeSet.objects.filter(project=project, pk=set_id).first()
    if the_set is None:
        raise NotFound("no such practice set")
    post = request.POST
    base = model_get(
        model_id=id_or_error(post.get("base_model"), "base_model"), user=request.user, project=project
    )
    reward_model = None
    if post.get("reward_model"):
        reward_model = model_get(
            model_id=id_or_error(post.get("reward_model"), "reward_model"), user=request.user, project=project
        )
    job = grpo_job_start(
        practice_set=the_set,
        base_model=base,
        reward_model=reward_model,
        user=request.user,
        config={name: post.get(name) for name in GRPO_FIELDS},
        output_name=post.get("output_name", ""),
    )
    messages.success(request, f"GRPO job #{job.pk} queued on practice set {the_set.name}.")
    return redirect("jobs:job", kind="grpo", job_id=job.pk)
