"""Whole numbers too big for their database column are refused as input, naming the field, never a 500."""

from typing import Any

import pytest

from labeling.models import Demonstration, Project, Role
from labeling.services.projects import membership_set, project_create
from labeling.services.queue import claim_next_task
from tests.factories import seed_demonstrations
from tests.robustness.world import World, client_as
from trainer_bridge.models import RetrainPolicy

HUGE = 2**70


def test_project_forms_refuse_an_overlap_or_lease_too_big_to_store(world: World) -> None:
    client = client_as(world.people["admin"])
    fields = {"name": "huge", "task_kinds": ["ranking"], "k": 4, "overlap": 1, "lease_seconds": 600}
    for name in ("overlap", "lease_seconds"):
        response = client.post("/projects/new/", fields | {name: HUGE})
        assert response.status_code == 400 and name in response.context["form"].errors, name
    assert not Project.objects.filter(name="huge").exists()


def test_cleaning_settings_refuse_a_short_text_length_too_big_to_store(world: World) -> None:
    response = client_as(world.people["admin"]).post(
        f"/projects/{world.project.pk}/curation/settings",
        {
            "near_duplicate_threshold": 0.8,
            "keep_rule": "oldest",
            "decontam_long_ngram": 13,
            "decontam_short_ngram": 8,
            "decontam_short_text_words": HUGE,
            "phone_region": "US",
        },
    )
    assert response.status_code == 400 and b"decontam_short_text_words" in response.content


def test_a_probe_run_refuses_a_seed_too_big_to_store(world: World) -> None:
    probe_set = world.set_ids["probe"]
    response = client_as(world.people["admin"]).post(
        f"/projects/{world.project.pk}/quality/probes/{probe_set}/",
        {
            "model_version": world.ids["model_id"],
            "samples": 2,
            "max_new_tokens": 8,
            "temperature": 1.0,
            "seed": 2**64,
            "judge": "containment",
        },
    )
    assert response.status_code == 400 and "seed" in response.context["form"].errors


@pytest.mark.parametrize("via", ["web", "api"])
def test_a_demonstration_with_a_pasted_count_too_big_to_store_is_refused(
    world: World, api: Any, via: str
) -> None:
    lea = world.people["labeler"]
    project = project_create(
        name="writing",
        task_kinds=["demonstration"],
        created_by=world.people["admin"],
        k=4,
        overlap=1,
        lease_seconds=600,
    )
    seed_demonstrations(project, 1)
    membership_set(project=project, user=lea, role=Role.LABELER)
    assignment = claim_next_task(project=project, labeler=lea)
    if via == "web":
        response = client_as(lea).post(
            f"/assignments/{assignment.pk}/write/", {"content": "An answer.", "pasted_chars": HUGE}
        )
    else:
        response = api(lea).post(
            f"/api/assignments/{assignment.pk}/submit/",
            {"messages": [{"role": "assistant", "content": "An answer."}], "pasted_chars": HUGE},
            format="json",
        )
    assert response.status_code == 400 and b"pasted_chars" in response.content
    assert not Demonstration.objects.exists()


def test_a_retrain_policy_refuses_a_threshold_too_big_to_store(world: World, api: Any) -> None:
    policy = RetrainPolicy.objects.get(pk=world.ids["policy_id"])
    response = api(world.people["admin"]).patch(
        f"/api/retrain-policies/{policy.pk}/", {"min_new_annotations": HUGE}, format="json"
    )
    assert response.status_code == 400 and "min_new_annotations" in response.json()["fields"]
    policy.refresh_from_db()
    assert policy.min_new_annotations == 10
