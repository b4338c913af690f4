"""The search corpora of a project's search-tool conversations: upload, try a query, delete."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError, NotFound
from core.forms import refusal_context
from core.types import AuthedRequest
from labeling import search
from labeling.access import project_for, project_nav
from labeling.forms import (
    CorpusForm,
)
from labeling.models import Role, SearchCorpus
from labeling.selectors.projects import corpora_for
from labeling.services import corpora


@login_required
@require_http_methods(["GET", "POST"])
def corpus(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.ADMIN)
    form = CorpusForm(request.POST or None, request.FILES or None)
    context = project_nav(project, role, "corpus") | {"form": form, "lines": [], "error": ""}
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            uploaded = corpora.corpus_upload(
                project=project,
                name=form.cleaned_data["name"],
                stream=form.cleaned_data["file"],
                uploaded_by=request.user,
            )
        except DomainError as exc:
            context |= refusal_context(exc)
            status = 400
        else:
            messages.success(request, f"Corpus {uploaded.name}: {uploaded.document_count} documents stored.")
            return redirect("labeling:corpus", project_id=project.pk)
    elif form.errors:
        status = 400
    query, results = request.GET.get("q", "").strip(), []
    if query:
        try:
            results = search.search_documents(project_id=project.pk, query=search.clean_query(query))
        except DomainError as exc:
            context |= {"search_error": exc.detail}
            status = 400
    context |= {
        "corpora": corpora_for(project=project),
        "query": query,
        "results": [r | {"headline": search.headline_html(r["headline"])} for r in results],
    }
    return render(request, "labeling/corpus.html", context, status=status)


@login_required
@require_POST
def corpus_delete(request: AuthedRequest, project_id: int, corpus_id: int) -> HttpResponse:
    project, _ = project_for(request.user, project_id, Role.ADMIN)
    found = SearchCorpus.objects.filter(project=project, pk=corpus_id).first()
    if found is None:
        raise NotFound("no such corpus")
    corpora.corpus_delete(corpus=found)
    messages.success(request, f"Corpus {found.name} deleted.")
    return redirect("labeling:corpus", project_id=project.pk)
