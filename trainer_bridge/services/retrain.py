"""Scheduled retrains: a policy checked on a django-celery-beat schedule freezes a snapshot and starts
training once enough new accepted labels exist. Every check leaves a RetrainRun saying what it did and why.
"""

import json
from typing import Any

from celery.schedules import crontab as parse_crontab
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from core.errors import Conflict, DomainError
from core.types import User
from curation.models import DatasetSnapshot, SnapshotRow
from curation.snapshots import SnapshotFilters, Verdict, annotations_selected, snapshot_freeze
from labeling.access import require_role
from labeling.models import Project, TaskKind
from registry.models import ModelVersion
from trainer_bridge.jobs.lifecycle import JOB_ROLE
from trainer_bridge.models import JobStatus, RetrainPolicy, RetrainRun, TrainingJob
from trainer_bridge.services.training import ALLOWED_BASES, SFT_ROW_KINDS, training_config, training_job_start

CHECK_TASK = "trainer_bridge.tasks.retrain_policy_check"


def policy_row_kinds(*, project: Project, kind: str) -> list[str]:
    """The task kinds whose labels train this kind of model, among the project's kinds."""
    wanted = SFT_ROW_KINDS if kind == TrainingJob.Kind.SFT else [TaskKind.RANKING]
    return sorted(k for k in project.task_kinds if k in wanted)


def _crontab_fields(line: str) -> dict[str, str]:
    parts = line.split()
    if len(parts) != 5:
        raise DomainError(
            "a crontab line has five fields: minute hour day-of-month month day-of-week", field="crontab"
        )
    names = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    values = dict(zip(names, parts, strict=True))
    try:
        parse_crontab(**values)
    except (ValueError, TypeError) as exc:
        raise DomainError(f"the crontab line {line!r} is not valid: {exc}", field="crontab") from None
    return values


def _schedule(policy: RetrainPolicy) -> dict[str, Any]:
    if policy.interval_minutes:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=policy.interval_minutes, period=IntervalSchedule.MINUTES
        )
        return {"interval": interval, "crontab": None}
    crontab, _ = CrontabSchedule.objects.get_or_create(**_crontab_fields(policy.crontab), timezone="UTC")
    return {"interval": None, "crontab": crontab}


def _sync_periodic_task(policy: RetrainPolicy) -> None:
    """The beat entry that checks the policy: created, rescheduled or switched with it."""
    values = {
        "name": f"retrain policy {policy.pk} ({policy.project.name}: {policy.name})"[:200],
        "task": CHECK_TASK,
        "kwargs": json.dumps({"policy_id": policy.pk}),
        "enabled": policy.enabled,
        "description": f"Checks retrain policy {policy.name} of project {policy.project.name}.",
        **_schedule(policy),
    }
    if policy.periodic_task_id is None:
        policy.periodic_task = PeriodicTask.objects.create(**values)
        policy.save(update_fields=["periodic_task"])
        return
    task = PeriodicTask.objects.get(pk=policy.periodic_task_id)
    for name, value in values.items():
        setattr(task, name, value)
    task.save()


def _check_policy(
    *,
    project: Project,
    kind: str,
    base_model: ModelVersion,
    min_new_annotations: int,
    interval_minutes: int | None,
    crontab: str,
    validation_fraction: float,
) -> None:
    if kind not in TrainingJob.Kind.values:
        raise DomainError(f"kind is one of {TrainingJob.Kind.values}", field="kind")
    if not policy_row_kinds(project=project, kind=kind):
        raise DomainError(f"this project has no task kind whose labels train a {kind} model", field="kind")
    if base_model.kind not in ALLOWED_BASES[kind]:
        raise DomainError(f"{kind} training cannot start from a {base_model.kind} model", field="base_model")
    if base_model.project_id not in (None, project.pk):
        raise DomainError("this model belongs to another project", field="base_model")
    if min_new_annotations < 1:
        raise DomainError("the threshold is at least one new label", field="min_new_annotations")
    if (interval_minutes is None) == (not crontab):
        raise DomainError("give either an interval in minutes or a crontab line", field="interval_minutes")
    if interval_minutes is not None and interval_minutes < 1:
        raise DomainError("the interval is at least one minute", field="interval_minutes")
    if crontab:
        _crontab_fields(crontab)
    if not 0 <= validation_fraction < 1:
        raise DomainError("validation_fraction is at least 0 and below 1", field="validation_fraction")


@transaction.atomic
def retrain_policy_create(
    *,
    project: Project,
    user: User | None,
    name: str,
    kind: str,
    base_model: ModelVersion,
    min_new_annotations: int,
    interval_minutes: int | None = None,
    crontab: str = "",
    training_config_values: dict[str, Any] | None = None,
    validation_fraction: float = 0.1,
    enabled: bool = True,
) -> RetrainPolicy:
    if user is not None:
        require_role(user=user, project=project, role=JOB_ROLE)
    name, crontab = name.strip(), " ".join(crontab.split())
    if not name:
        raise DomainError("name the policy", field="name")
    if RetrainPolicy.objects.filter(project=project, name=name).exists():
        raise Conflict(f"this project has a retrain policy named {name!r}", field="name")
    _check_policy(
        project=project,
        kind=kind,
        base_model=base_model,
        min_new_annotations=min_new_annotations,
        interval_minutes=interval_minutes,
        crontab=crontab,
        validation_fraction=validation_fraction,
    )
    policy = RetrainPolicy.objects.create(
        project=project,
        name=name,
        kind=kind,
        base_model=base_model,
        min_new_annotations=min_new_annotations,
        interval_minutes=interval_minutes,
        crontab=crontab,
        training_config=training_config(kind, training_config_values),
        validation_fraction=validation_fraction,
        enabled=enabled,
        created_by=user,
    )
    _sync_periodic_task(policy)
    return policy


@transaction.atomic
def retrain_policy_update(*, policy: RetrainPolicy, user: User | None, **changes: Any) -> RetrainPolicy:
    """Change the threshold, the schedule, or switch the policy on or off; the beat entry follows."""
    if user is not None:
        require_role(user=user, project=policy.project, role=JOB_ROLE)
    allowed = {"enabled", "min_new_annotations", "interval_minutes", "crontab", "validation_fraction"}
    if unknown := sorted(set(changes) - allowed):
        raise DomainError(f"cannot change {unknown}", field=unknown[0])
    policy = RetrainPolicy.objects.select_for_update().get(pk=policy.pk)
    if "crontab" in changes:
        changes["crontab"] = " ".join((changes["crontab"] or "").split())
        changes.setdefault("interval_minutes", None)
    elif changes.get("interval_minutes") is not None:
        changes["crontab"] = ""
    for field, value in changes.items():
        setattr(policy, field, value)
    _check_policy(
        project=policy.project,
        kind=policy.kind,
        base_model=policy.base_model,
        min_new_annotations=policy.min_new_annotations,
        interval_minutes=policy.interval_minutes,
        crontab=policy.crontab,
        validation_fraction=policy.validation_fraction,
    )
    policy.save()
    _sync_periodic_task(policy)
    return policy


@transaction.atomic
def retrain_policy_delete(*, policy: RetrainPolicy, user: User | None) -> None:
    if user is not None:
        require_role(user=user, project=policy.project, role=JOB_ROLE)
    task_id = policy.periodic_task_id
    policy.delete()
    if task_id is not None:
        PeriodicTask.objects.filter(pk=task_id).delete()


# --- checking ------------------------------------------------------------------------------------


def last_trained_run(*, policy: RetrainPolicy) -> RetrainRun | None:
    """The newest run whose training finished: its snapshot is what the next run's labels are new against."""
    return (
        policy.runs.filter(outcome=RetrainRun.Outcome.STARTED, training_job__status=JobStatus.DONE)
        .select_related("snapshot")
        .order_by("-checked_at", "-id")
        .first()
    )


def active_run(*, policy: RetrainPolicy) -> RetrainRun | None:
    return (
        policy.runs.filter(outcome=RetrainRun.Outcome.STARTED, training_job__status__in=TrainingJob.ACTIVE)
        .select_related("training_job")
        .order_by("-checked_at", "-id")
        .first()
    )


def new_accepted_annotations(*, policy: RetrainPolicy, since: DatasetSnapshot | None) -> int:
    """Accepted labels of the policy's kinds (the current revision of each) that `since` does not hold.

    The selection is the one snapshot_freeze makes, so a label counted here is a label the next snapshot
    takes. An edited label is a new revision, so it counts as new.
    """
    kinds = policy_row_kinds(project=policy.project, kind=policy.kind)
    # A policy sets no minimum labeler score, so nobody's labels are left out of the count.
    rankings, demonstrations = annotations_selected(
        policy.project, SnapshotFilters(kinds=kinds, verdict=Verdict.ACCEPTED), low_scorers={}
    )
    if since is not None:
        frozen = SnapshotRow.objects.filter(snapshot=since)
        rankings = rankings.exclude(
            id__in=Subquery(frozen.filter(kind=TaskKind.RANKING).values("annotation_id"))
        )
        demonstrations = demonstrations.exclude(
            id__in=Subquery(frozen.exclude(kind=TaskKind.RANKING).values("annotation_id"))
        )
    return rankings.count() + demonstrations.count()


@transaction.atomic
def retrain_policy_check(*, policy_id: int) -> RetrainRun | None:
    """Start the policy's training when enough new accepted labels exist; record what happened and why.

    The policy row stays locked for the whole check, so two checks at once (a slow beat, a manual
    "check now") run one after the other and the second sees the first one's run as active.
    """
    policy = (
        RetrainPolicy.objects.select_for_update(of=("self",))
        .select_related("project", "base_model")
        .filter(pk=policy_id)
        .first()
    )
    if policy is None:
        return None

    def record(outcome: str, reason: str, **fields: Any) -> RetrainRun:
        return RetrainRun.objects.create(policy=policy, outcome=outcome, reason=reason, **fields)

    if not policy.enabled:
        return record(RetrainRun.Outcome.SKIPPED, "the policy is switched off")
    if (active := active_run(policy=policy)) is not None and (job := active.training_job) is not None:
        return record(
            RetrainRun.Outcome.SKIPPED,
            f"a run is active: training job #{job.pk} of {active.checked_at:%Y-%m-%d %H:%M} is {job.status}",
        )
    previous = last_trained_run(policy=policy)
    since = previous.snapshot if previous is not None else None
    new = new_accepted_annotations(policy=policy, since=since)
    against = f"since snapshot {since.name}" if since is not None else "in all"
    if new < policy.min_new_annotations:
        return record(
            RetrainRun.Outcome.SKIPPED,
            f"not enough new labels: {new} of {policy.min_new_annotations} new accepted labels {against}",
            new_annotations=new,
        )
    number = policy.runs.filter(outcome=RetrainRun.Outcome.STARTED).count() + 1
    try:
        with transaction.atomic():
            snapshot = snapshot_freeze(
                project=policy.project,
                name=f"{policy.name[:120]} — retrain {number} ({timezone.now():%Y-%m-%d %H:%M:%S})",
                created_by=policy.created_by,
                kinds=policy_row_kinds(project=policy.project, kind=policy.kind),
                verdict=Verdict.ACCEPTED,
                validation_fraction=policy.validation_fraction,
            )
            job = training_job_start(
                snapshot=snapshot,
                base_model=policy.base_model,
                kind=policy.kind,
                user=None,
                config=policy.training_config,
            )
    except DomainError as exc:
        return record(RetrainRun.Outcome.FAILED, f"could not start: {exc.detail}", new_annotations=new)
    TrainingJob.objects.filter(pk=job.pk).update(created_by=policy.created_by)
    return record(
        RetrainRun.Outcome.STARTED,
        f"{new} new accepted labels {against} (threshold {policy.min_new_annotations}): "
        f"froze snapshot {snapshot.name} ({snapshot.row_count} rows) and started training job #{job.pk}",
        new_annotations=new,
        snapshot=snapshot,
        training_job=job,
    )
