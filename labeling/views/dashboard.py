"""The admin dashboard of a project's progress."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from core.charts import stacked_bar_chart
from core.types import AuthedRequest
from labeling.access import project_for, project_nav
from labeling.models import Role
from labeling.selectors.dashboard import Dashboard, project_dashboard
from labeling.views.display import query_int


@login_required
def dashboard(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.ADMIN)
    days = query_int(request.GET.get("days"), 14, low=7, high=90)
    board = project_dashboard(project=project, days=days)
    totals = {k: sum(row[k] or 0 for row in board.by_kind) for k in ("total", "done", "left", "closed")}
    context = project_nav(project, role, "dashboard") | {
        "board": board,
        "days": days,
        "totals": totals,
        "kinds": [
            row | {"done_pct": 100 * row["done"] / row["total"] if row["total"] else 0}
            for row in board.by_kind
        ],
        "chart": stacked_bar_chart(
            board.days,
            [(s.username, s.per_day) for s in board.labelers],
            title="Labels per day, by labeler",
        ),
        "timing": _timing_bars(board),
    }
    return render(request, "labeling/dashboard.html", context)


def _timing_bars(board: Dashboard) -> list[dict[str, Any]]:
    peak = max([s.median_seconds for s in board.labelers] + [1.0])
    return [
        {
            "stats": s,
            "pct": round(100 * s.median_seconds / peak, 1),
            "days_total": sum(s.per_day.values()),
            "hours": s.total_seconds / 3600,
        }
        for s in board.labelers
    ]
