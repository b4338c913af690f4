"""The Evaluation tab: the leaderboard of model versions from blind A/B votes beside their automatic
figures; starting an evaluation and a reward-model scoring job; the votes and DPO pairs as files."""

from collections.abc import Callable, Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core import charts
from core.forms import float_or_error, id_or_error, int_or_error
from core.pages import flash_errors
from core.types import AuthedRequest
from curation.quality.leaderboard import ELO_BASE
from labeling.access import project_for
from labeling.models import Prompt
from labeling.selectors.evaluation import evaluation_progress
from labeling.views.display import query_int
from registry.models import ModelVersion
from registry.selectors import models_for
from trainer_bridge.exports.evaluation import evaluation_dpo_rows, evaluation_vote_rows, jsonl_response
from trainer_bridge.jobs.lifecycle import JOB_ROLE, VIEW_ROLE
from trainer_bridge.leaderboard import ProjectLeaderboard, project_leaderboard
from trainer_bridge.selectors import model_get
from trainer_bridge.services.evaluation import evaluation_start
from trainer_bridge.services.scoring import scoring_job_start
from trainer_bridge.views.nav import tab_context

MAX_VERSIONS_POSTED = 64


def _leaderboard_url(request: AuthedRequest, project_id: int) -> str:
    return reverse("jobs:evaluation", args=[project_id])


def _optional_id(value: str | None, field: str) -> int | None:
    return id_or_error(value, field) if value else None


@login_required
@require_GET
def leaderboard_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, VIEW_ROLE)
    get = request.GET
    view = project_leaderboard(
        project=project,
        baseline_id=_optional_id(get.get("baseline"), "baseline"),
        by=get.get("by") or "source",
        reward_model_id=_optional_id(get.get("reward_model"), "reward_model"),
        practice_set_id=_optional_id(get.get("practice_set"), "practice_set"),
        k=query_int(get.get("k"), 8, high=64),
        accepted_only=get.get("accepted") == "1",
    )
    models = list(models_for(project_id=project.pk))
    sources = sorted(
        s for s in Prompt.objects.filter(project=project).values_list("source", flat=True).distinct() if s
    )
    context = tab_context(project, role, "evaluation") | {
        "active": "evaluation",
        "view": view,
        "progress": evaluation_progress(project=project),
        "charts": _charts(view),
        "writers": [m for m in models if m.kind != ModelVersion.Kind.RM],
        "sources": sources[:500],
        "query": get.urlencode(),
    }
    return render(request, "trainer_bridge/evaluation.html", context)


def _charts(view: ProjectLeaderboard) -> dict[str, Any]:
    if not view.rows:
        return {}
    names = view.names
    baseline = names.get(view.board.baseline or 0, "")
    return {
        "scores": charts.interval_chart(
            [(names[r.version.pk], r.score.rating, r.score.low, r.score.high) for r in view.rows],
            title="Rating with its 95% interval",
            reference=ELO_BASE,
            shown=lambda value: f"{value:.0f}",
        ),
        "baseline": charts.share_chart(
            [(names[r.version], (r.wins, r.ties, r.losses)) for r in view.board.records],
            title=f"Votes against {baseline}",
            parts_named=("wins", "ties", "losses"),
        ),
    }


@login_required
@require_POST
@flash_errors(_leaderboard_url)
def evaluation_start_view(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, JOB_ROLE)
    post = request.POST
    versions = [
        model_get(model_id=id_or_error(value, "versions"), user=request.user, project=project)
        for value in post.getlist("versions")[:MAX_VERSIONS_POSTED]
    ]
    started = evaluation_start(
        project=project,
        versions=versions,
        user=request.user,
        source=post.get("source") or None,
        limit=int_or_error(post.get("limit"), "limit"),
        pairs_per_prompt=int_or_error(post.get("pairs_per_prompt"), "pairs_per_prompt"),
        seed=int_or_error(post.get("seed"), "seed", default=0),
        max_new_tokens=int_or_error(post.get("max_new_tokens"), "max_new_tokens", default=256),
        temperature=float_or_error(post.get("temperature"), "temperature", default=1.0),
    )
    plan = started.plan
    jobs = ", ".join(f"#{job.pk} ({job.model().name})" for job in started.jobs)
    messages.success(
        request,
        f"{plan.pairs_planned} comparisons planned over {plan.prompts} prompts; {plan.tasks_created} tasks "
        f"are ready for labelers" + (f"; generation jobs {jobs} write the missing answers." if jobs else "."),
    )
    return redirect("jobs:evaluation", project.pk)


@login_required
@require_POST
@flash_errors(_leaderboard_url)
def scoring_start_view(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, JOB_ROLE)
    reward_model = model_get(
        model_id=id_or_error(request.POST.get("reward_model"), "reward_model"),
        user=request.user,
        project=project,
    )
    job = scoring_job_start(project=project, reward_model=reward_model, user=request.user)
    messages.success(request, f"Scoring job #{job.pk} queued: {len(job.candidate_ids)} answers.")
    return redirect("jobs:job", kind="scoring", job_id=job.pk)


def _download(
    request: AuthedRequest, project_id: int, rows: Callable[..., Iterator[dict[str, Any]]], what: str
) -> StreamingHttpResponse:
    project, _ = project_for(request.user, project_id, VIEW_ROLE)
    accepted_only = request.GET.get("accepted") == "1"
    return jsonl_response(
        rows(project=project, accepted_only=accepted_only), f"project-{project.pk}-evaluation-{what}.jsonl"
    )


@login_required
@require_GET
def votes_download(request: AuthedRequest, project_id: int) -> StreamingHttpResponse:
    return _download(request, project_id, evaluation_vote_rows, "votes")


@login_required
@require_GET
def pairs_download(request: AuthedRequest, project_id: int) -> StreamingHttpResponse:
    return _download(request, project_id, evaluation_dpo_rows, "dpo-pairs")
