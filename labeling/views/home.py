"""The home page: each project's waiting work, and any guideline version to acknowledge."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from core.markdown import render_markdown
from core.types import AuthedRequest
from guidelines.selectors import guideline_version_diff
from labeling.selectors.projects import home_overview


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    rows = home_overview(user=request.user)
    pending = []
    for row in rows:
        # Whoever published a version has read it.
        if row.pending_version is None or row.pending_version.author_id == request.user.pk:
            continue
        diff = []
        if row.acknowledged_version is not None:
            diff = guideline_version_diff(old=row.acknowledged_version, new=row.pending_version)
        pending.append({"row": row, "html": render_markdown(row.pending_version.body), "diff": diff})
    return render(request, "labeling/home.html", {"rows": rows, "pending": pending})
