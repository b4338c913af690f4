"""Search corpora an admin uploads for a project's search-tool conversations."""

from typing import IO

from django.db import transaction

from core.errors import Conflict, DomainError
from core.types import User
from labeling import search
from labeling.models import (
    Project,
    SearchCorpus,
    SearchDocument,
)
from labeling.services.imports import ImportRejected


@transaction.atomic
def corpus_upload(*, project: Project, name: str, stream: IO[bytes], uploaded_by: User) -> SearchCorpus:
    """Store a JSONL corpus of {"title", "url", "text"} documents; a file with any bad line stores nothing."""
    name = name.strip()
    if not name:
        raise DomainError("name the corpus", field="name")
    if SearchCorpus.objects.filter(project=project, name=name).exists():
        raise Conflict(f"this project has a corpus named {name!r}", field="name")
    rows, errors = search.parse_corpus_file(stream)
    if errors:
        raise ImportRejected(errors)
    corpus = SearchCorpus.objects.create(
        project=project, name=name, uploaded_by=uploaded_by, document_count=len(rows)
    )
    SearchDocument.objects.bulk_create(
        [SearchDocument(corpus=corpus, title=r.title, url=r.url, text=r.text) for r in rows], batch_size=1000
    )
    return corpus


def corpus_delete(*, corpus: SearchCorpus) -> None:
    corpus.delete()
