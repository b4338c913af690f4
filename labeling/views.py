from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from labeling import selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = selectors.projects_for(user=request.user)
    return render(request, "labeling/home.html", {"projects": projects})
