"""Reply drafting jobs: a model version's draft reply for each prompt of a project's open writing tasks,
written ahead, stored exactly once per prompt and version (labeling.ReplyDraft).

Labelers never wait for a draft: handing out a task reads no model. A task whose draft is not written yet
is served with an empty reply, and its drafting job fills the rest in the background. Drafts are asked for
when prompts are imported (the import sends `reply_drafts_schedule` once it commits), by the beat every
minute (any other way tasks appear, or a broker that was down at the import), and by an admin's start.
"""

from typing import Any

from django.db import transaction
from django.db.models import F

from core.errors import Conflict, DomainError
from core.types import User
from labeling.access import require_role
from labeling.models import Project, Prompt, ReplyDraft, ReplyDraftSettings
from labeling.selectors.model_drafts import prompts_awaiting_drafts
from trainer_bridge.engines import ENGINES, sample_answers
from trainer_bridge.jobs.lifecycle import JOB_ROLE, Run, job_log
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.models import DraftingJob, Job, JobStatus, JobType
from trainer_bridge.services.generation import storable

MAX_PROMPTS = 100_000  # one job's list; a bigger backlog is drafted by the jobs after it


@transaction.atomic
def drafting_job_start(
    *,
    project: Project,
    user: User | None,
    prompt_ids: list[int] | None = None,
    batch_size: int = 8,
    engine: str = "auto",
    seed: int = 0,
) -> DraftingJob:
    """Queue a job drafting a reply, with the project's chosen model version, for each prompt of its open
    writing tasks that has none from that version yet (or for the prompts named); the list is fixed now."""
    if user is not None:
        require_role(user=user, project=project, role=JOB_ROLE)
    settings = ReplyDraftSettings.objects.select_for_update().filter(project=project).first()
    model = settings.model_version if settings else None
    if settings is None or model is None:
        raise DomainError("choose the model version that writes the drafts first", field="model_version")
    if engine not in ENGINES:
        raise DomainError(f"engine is one of {list(ENGINES)}", field="engine")
    if isinstance(batch_size, bool) or not 1 <= batch_size <= 512:
        raise DomainError("batch_size is between 1 and 512", field="batch_size")
    running = Job.objects.filter(
        project=project, type=JobType.DRAFTING, model_version=model, status__in=Job.ACTIVE
    ).first()
    if running is not None:
        raise Conflict(
            f"drafting job #{running.pk} is already drafting with {model.name}; it covers these tasks",
            field="model_version",
        )
    awaiting = prompts_awaiting_drafts(project=project, model_version_id=model.pk)
    if prompt_ids is not None:
        known = Prompt.objects.filter(project=project, pk__in=prompt_ids).values_list("pk", flat=True)
        if missing := sorted(set(prompt_ids) - set(known)):
            raise DomainError(f"prompts {missing[:10]} are not in this project", field="prompt_ids")
        awaiting = awaiting.filter(pk__in=prompt_ids)
    chosen = list(awaiting.values_list("pk", flat=True)[:MAX_PROMPTS])
    if not chosen:
        raise DomainError(
            f"every open demonstration and refusal task already has a draft by {model.name}", field="prompts"
        )
    job = DraftingJob.objects.create(
        type=JobType.DRAFTING,
        project=project,
        model_version=model,
        prompt_ids=chosen,
        sampling_params={"max_new_tokens": settings.max_new_tokens, "temperature": settings.temperature},
        seed=seed,
        batch_size=batch_size,
        engine=engine,
        progress_total=len(chosen),
        created_by=user,
    )
    job_log(job, f"queued: a draft by {model.name} for {len(chosen)} prompts (engine: {engine})")
    job_dispatch(job)
    return job


def reply_drafts_schedule(*, project: Project) -> DraftingJob | None:
    """Start drafting for the project when its drafts are on, some open writing task lacks one and no
    drafting job is on its way already; otherwise nothing."""
    settings = ReplyDraftSettings.objects.filter(project=project, enabled=True).first()
    if settings is None or settings.model_version_id is None:
        return None
    try:
        return drafting_job_start(project=project, user=None)
    except DomainError:
        return None  # a job is on its way (Conflict), or nothing waits


def reply_drafts_schedule_all() -> list[int]:
    """The beat's round: start drafting in every project that needs it; the ids of the jobs started."""
    started = []
    for project in Project.objects.filter(reply_draft_settings__enabled=True).order_by("pk"):
        job = reply_drafts_schedule(project=project)
        if job is not None:
            started.append(job.pk)
    return started


def draft_seed(job: DraftingJob, prompt_id: int) -> int:
    """Each prompt samples from its own seed, so a prompt drafted again gets the same draft (where the
    engine guarantees it: docs/operations.md)."""
    return (job.seed * 1_000_003 + prompt_id) % 2**62


def _drafted(prompt_ids: list[int], model_version_id: int) -> set[int]:
    return set(
        ReplyDraft.objects.filter(prompt_id__in=prompt_ids, model_version_id=model_version_id).values_list(
            "prompt_id", flat=True
        )
    )


def drafting_work(run: Run, job: DraftingJob) -> None:
    """Run (or resume) a drafting job; prompts that already have their draft are skipped."""
    model = job.model()
    prompts = list(Prompt.objects.filter(pk__in=job.prompt_ids).order_by("pk"))
    done = _drafted(job.prompt_ids, model.pk)
    todo = [p for p in prompts if p.pk not in done]
    run.update(progress_done=len(prompts) - len(todo), progress_total=len(prompts))
    if done:
        run.log(f"{len(done)} of {len(prompts)} prompts already have a draft by {model.name}; skipping them")
    if todo:
        used: dict[str, Any] = {"engine": job.engine}

        def on_batch(start: int, answers: list[list[str]]) -> None:
            batch = todo[start : start + len(answers)]
            rows = [
                ReplyDraft(
                    prompt=prompt,
                    model_version=model,
                    text=storable(texts[0]),
                    sampling_params=job.sampling_params
                    | {"seed": draft_seed(job, prompt.pk), "drafting_job": job.pk}
                    | used,
                )
                for prompt, texts in zip(batch, answers, strict=True)
            ]
            ids = [p.pk for p in batch]
            with transaction.atomic():  # the batch's drafts and the progress that counts them, together
                before = len(_drafted(ids, model.pk))
                ReplyDraft.objects.bulk_create(rows, ignore_conflicts=True)  # a retried batch adds nothing
                added = len(_drafted(ids, model.pk)) - before
                run.update(progress_done=F("progress_done") + len(batch))
                DraftingJob.objects.filter(pk=job.pk).update(drafts_created=F("drafts_created") + added)
            run.check()

        sample_answers(
            model=model,
            prompts=[p.messages for p in todo],
            k=1,
            seeds=[draft_seed(job, p.pk) for p in todo],
            batch_size=job.batch_size,
            on_batch=on_batch,
            log=run.log,
            should_stop=run.should_stop,
            engine=job.engine,
            on_engine=lambda name: used.update(engine=name),
            **job.sampling_params,
        )
        run.check()
    missing = len(prompts) - len(_drafted(job.prompt_ids, model.pk))
    if missing:
        raise DomainError(f"{missing} prompts are still without a draft")
    finished = DraftingJob.objects.get(pk=job.pk)
    run.finish(
        JobStatus.DONE,
        line=f"done: {len(prompts)} prompts have a draft by {model.name}; "
        f"this job wrote {finished.drafts_created}",
    )
