import pytest
from django.db import transaction

from labeling.bulk import copy_insert
from labeling.models import Prompt


def _prompt(project, i: int, **extra) -> dict:
    return {
        "project_id": project.pk,
        "messages": [{"role": "user", "content": f"Question {i}?"}],
        "content_hash": f"{i:064x}",
        "external_id": f"q{i}",
        **extra,
    }


def test_rows_go_in_with_their_defaults_in_the_order_given(project):
    with transaction.atomic():
        assert copy_insert(Prompt, [_prompt(project, i) for i in (3, 1, 2)]) == 3
    stored = list(Prompt.objects.filter(project=project).order_by("id"))
    assert [p.external_id for p in stored] == ["q3", "q1", "q2"]
    assert stored[0].messages == [{"role": "user", "content": "Question 3?"}]
    assert stored[0].metadata == {} and stored[0].source == "" and stored[0].created_at is not None


def test_rows_that_hit_a_unique_key_are_skipped_and_not_counted(project):
    with transaction.atomic():
        copy_insert(Prompt, [_prompt(project, 1)])
    with transaction.atomic():
        # q1 again (same hash, same id) and a fresh one; then the same batch twice in one transaction
        assert copy_insert(Prompt, [_prompt(project, 1, metadata={"x": 1}), _prompt(project, 2)]) == 1
        assert copy_insert(Prompt, [_prompt(project, 2)]) == 0
    assert Prompt.objects.get(external_id="q1").metadata == {}
    assert Prompt.objects.filter(project=project).count() == 2


def test_a_field_without_a_default_must_be_given(project):
    row = _prompt(project, 1)
    del row["content_hash"]
    with pytest.raises(ValueError, match="Prompt.content_hash has no default"), transaction.atomic():
        copy_insert(Prompt, [row])
    assert not Prompt.objects.exists()
