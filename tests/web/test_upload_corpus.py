import io
import json

from labeling.models import SearchCorpus, SearchDocument


def _file(lines: list[str], name: str = "docs.jsonl") -> io.BytesIO:
    upload = io.BytesIO("\n".join(lines).encode())
    upload.name = name
    return upload


def test_an_admin_uploads_a_corpus_and_can_search_it(make_project, admin, client_for):
    project = make_project(kinds=["search"])
    client = client_for(admin)
    docs = [
        {
            "title": "Lighthouses of Brittany",
            "url": "https://example.org/lighthouses",
            "text": "The lighthouse at Ouessant guides ships.",
        },
        {"title": "Bread", "url": "", "text": "Sourdough needs a starter."},
    ]

    response = client.post(
        f"/projects/{project.pk}/corpus/", {"name": "wiki", "file": _file([json.dumps(d) for d in docs])}
    )

    assert response.status_code == 302
    corpus = SearchCorpus.objects.get(project=project)
    assert corpus.document_count == 2 and SearchDocument.objects.filter(corpus=corpus).count() == 2
    html = client.get(f"/projects/{project.pk}/corpus/?q=lighthouses").content.decode()
    assert "Lighthouses of Brittany" in html and "<mark>lighthouse</mark>" in html
    assert "Sourdough" not in html


def test_a_corpus_with_bad_lines_stores_nothing_and_lists_every_bad_line(make_project, admin, client_for):
    project = make_project(kinds=["search"])
    lines = [
        json.dumps({"title": "Fine", "text": "ok"}),
        "{not json",
        json.dumps({"title": "No text"}),
        json.dumps({"title": "T", "text": "x", "url": "javascript:alert(1)"}),
        json.dumps(["a list"]),
    ]

    response = client_for(admin).post(
        f"/projects/{project.pk}/corpus/", {"name": "wiki", "file": _file(lines)}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "4 bad line(s); nothing was imported" in html
    for line, reason in [
        (2, "invalid JSON"),
        (3, "text is empty"),
        (4, "url must start with"),
        (5, "each line must be a JSON object"),
    ]:
        assert f'<td class="num">{line}</td><td>{reason}' in html
    assert not SearchCorpus.objects.exists()
