"""A seeded project with one object of every kind a URL can name, and the people who use it."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from curation.models import CleaningRun, DuplicateCluster, EvalSet, PracticeSet, ProbeSet
from curation.snapshots import snapshot_freeze
from guidelines.services import guideline_acknowledge, guideline_publish
from labeling.models import Assignment, Project, Role, SearchCorpus, SearchDocument
from labeling.services.annotations import ranking_submit
from labeling.services.projects import membership_set, project_create
from labeling.services.queue import claim_next_task
from labeling.services.review import review_create
from registry.models import ModelServer, ModelVersion
from tests.factories import seed_rankings
from trainer_bridge.models import ExportJob, GenerationJob, RetrainPolicy, TrainingJob


@dataclass
class World:
    project: Project
    people: dict[str, Any]  # role name -> user (None for anonymous)
    ids: dict[str, int]  # URL keyword -> the id of a real object it can name
    job_ids: dict[str, int]  # export, generation, training
    set_ids: dict[str, int]  # probe, practice


User = get_user_model()
ROLES = ["anonymous", "non_member", "labeler", "reviewer", "admin"]


def build_world() -> World:
    """Create the world through the real services: a site admin, a labeler, a reviewer and a stranger."""
    admin = User.objects.create_user(username="ada", password="pw-ada", is_staff=True)
    project = project_create(
        name="world",
        task_kinds=["ranking", "demonstration", "search"],
        created_by=admin,
        k=4,
        overlap=1,
        lease_seconds=600,
    )
    for number in (1, 2):
        guideline_publish(
            guideline=project.guideline, author=admin, body=f"Rule {number}.", change_note=f"Rule {number}"
        )
    seed_rankings(project, 3)
    people = {}
    for username, role in (("lea", Role.LABELER), ("rhea", Role.REVIEWER)):
        people[username] = User.objects.create_user(username=username, password="pw-" + username)
        membership_set(project=project, user=people[username], role=role)
        guideline_acknowledge(user=people[username], version=project.guideline.versions.get(number=2))
    lea, rhea = people["lea"], people["rhea"]
    nina = User.objects.create_user(username="nina", password="pw-nina")
    done = claim_next_task(project=project, labeler=lea)
    ranking_submit(assignment_id=done.pk, labeler=lea, tiers=[done.task.candidate_ids])
    review_create(assignment_id=done.pk, reviewer=rhea, verdict="accept")
    assignment: Assignment = claim_next_task(project=project, labeler=lea)
    snapshot = snapshot_freeze(project=project, name="world v1", created_by=admin, validation_fraction=0.0)
    base = ModelVersion.objects.create(name="world-base", kind="base", path="/nonexistent/world-base")
    export = ExportJob.objects.create(
        type="export", project=project, snapshot=snapshot, kind="rm", created_by=admin
    )
    generation = GenerationJob.objects.create(
        type="generation", project=project, model_version=base, k=4, created_by=admin
    )
    training = TrainingJob.objects.create(
        type="training",
        kind="rm",
        project=project,
        snapshot=snapshot,
        model_version=base,
        output_name="world-rm",
        output_dir="/nonexistent/world-rm",
        created_by=admin,
    )
    policy = RetrainPolicy.objects.create(
        project=project,
        name="nightly",
        kind="rm",
        base_model=base,
        min_new_annotations=10,
        interval_minutes=60,
    )
    server = ModelServer.objects.create(  # an operator's server; nothing answers on port 9
        model_version=base,
        project=project,
        engine="vllm",
        managed=False,
        url="http://127.0.0.1:9/v1",
        served_model_name="world-base",
        status="unhealthy",
        created_by=admin,
    )
    run = CleaningRun.objects.create(project=project, filters=[], thresholds={}, created_by=admin)
    prompt_ids = list(project.prompts.order_by("pk").values_list("pk", flat=True))
    cluster = DuplicateCluster.objects.create(
        project=project,
        run=run,
        target="prompt",
        keep_rule="oldest",
        kept_id=prompt_ids[0],
        member_ids=prompt_ids[:2],
        pairs=[[prompt_ids[0], prompt_ids[1], 1.0]],
    )
    eval_set = EvalSet.objects.create(project=project, name="held out", uploaded_by=admin)
    corpus = SearchCorpus.objects.create(project=project, name="otters", uploaded_by=admin)
    document = SearchDocument.objects.create(corpus=corpus, title="Otters", text="Otters hold hands.")
    probe = ProbeSet.objects.create(project=project, name="facts", uploaded_by=admin)
    practice = PracticeSet.objects.create(project=project, name="arith", uploaded_by=admin)
    return World(
        project=project,
        people={"anonymous": None, "non_member": nina, "labeler": lea, "reviewer": rhea, "admin": admin},
        ids={
            "project_id": project.pk,
            "assignment_id": assignment.pk,
            "task_id": assignment.task_id,
            "user_id": lea.pk,
            "snapshot_id": snapshot.pk,
            "model_id": base.pk,
            "policy_id": policy.pk,
            "server_id": server.pk,
            "cluster_id": cluster.pk,
            "eval_set_id": eval_set.pk,
            "corpus_id": corpus.pk,
            "document_id": document.pk,
            "number": 1,
            "old": 1,
            "new": 2,
        },
        job_ids={"export": export.pk, "generation": generation.pk, "training": training.pk},
        set_ids={"probe": probe.pk, "practice": practice.pk},
    )


def client_as(user: Any | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client
