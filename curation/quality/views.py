"""Quality pages: agreement and labeler scores. Reviewers read; admins set the gold rate and answers."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.charts import bar_chart, histogram
from core.errors import NotAllowed, NotFound
from core.forms import JSONField
from core.types import AuthedRequest
from curation.quality import labelers as labeler_quality
from curation.quality.agreement import Metric, project_agreement, reviewer_agreement
from labeling.access import has_role, project_for, project_nav
from labeling.models import Role

# --- forms -----------------------------------------------------------------------------------------


class GoldRateForm(forms.Form):
    gold_rate = forms.FloatField(
        min_value=0.0, max_value=1.0, help_text="share of ranking tasks that are gold"
    )


class GoldAnswerForm(forms.Form):
    task = forms.IntegerField(min_value=1, help_text="a ranking task id")
    tiers = JSONField(
        help_text="the reference ranking: tiers of candidate ids, best first, e.g. [[3], [1, 2]]"
    )


def _require_admin(role: str) -> None:
    if not has_role(role, Role.ADMIN):
        raise NotAllowed("this needs the admin role in the project")


# --- agreement and labelers ------------------------------------------------------------------------


@login_required
def agreement(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.REVIEWER)
    asked = request.GET.get("metric", "ordinal")
    metric: Metric = "interval" if asked == "interval" else "nominal" if asked == "nominal" else "ordinal"
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
        "reviewers": reviewer_agreement(project=project),
    }
    return render(request, "curation/quality/agreement.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def labelers(request: AuthedRequest, project_id: int) -> HttpResponse:
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
        "is_admin": has_role(role, Role.ADMIN),
        "weights": labeler_quality.WEIGHTS,
        "gold_tasks": project.tasks.filter(is_gold=True).count(),
        "score_chart": bar_chart([(q.username, q.score) for q in rows], title="Labeler score"),
    }
    status = 400 if form.errors or gold_form.errors else 200
    return render(request, "curation/quality/labelers.html", context, status=status)
