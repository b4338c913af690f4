"""Candidate generation jobs: K sampled answers per prompt from a model version, stored exactly once.

The job samples through trainer_bridge.engines: the version's model server when one answers (vLLM, or
Coach's transformers server), else Coach's own loop, whose model code is imported inside the run.
"""

from typing import Any

from django.db import transaction
from django.db.models import Count, F, QuerySet

from core.errors import DomainError
from core.types import User
from labeling.access import require_role
from labeling.models import Candidate, Project, Prompt
from labeling.services.evaluation import evaluation_tasks_create
from labeling.services.imports import ranking_tasks_create
from registry.models import ModelVersion
from trainer_bridge.engines import ENGINES, sample_answers
from trainer_bridge.jobs.lifecycle import JOB_ROLE, Run, job_log
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.models import GenerationJob, JobStatus, JobType

WHICH = ("waiting", "all")  # waiting: prompts with no task yet (ranking prompts short of K candidates)
MAX_K = 16


def prompts_for_generation(
    *, project: Project, which: str = "waiting", source: str = "", limit: int | None = None
) -> QuerySet[Prompt]:
    if which not in WHICH:
        raise DomainError(f"which must be one of {list(WHICH)}", field="which")
    prompts = Prompt.objects.filter(project=project)
    if which == "waiting":
        prompts = prompts.filter(tasks__isnull=True)
    if source:
        prompts = prompts.filter(source=source)
    prompts = prompts.order_by("pk")
    return prompts[:limit] if limit else prompts


def _sampling(*, max_new_tokens: int, temperature: float, top_p: float) -> dict[str, Any]:
    if not 1 <= max_new_tokens <= 8192:
        raise DomainError("max_new_tokens is between 1 and 8192", field="max_new_tokens")
    if not 0 <= temperature <= 5:
        raise DomainError("temperature is between 0 (greedy) and 5", field="temperature")
    if not 0 < top_p <= 1:
        raise DomainError("top_p is above 0 and at most 1", field="top_p")
    return {"max_new_tokens": int(max_new_tokens), "temperature": float(temperature), "top_p": float(top_p)}


@transaction.atomic
def generation_job_start(
    *,
    project: Project,
    model_version: ModelVersion,
    user: User | None,
    k: int | None = None,
    which: str = "waiting",
    source: str = "",
    limit: int | None = None,
    prompt_ids: list[int] | None = None,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 8,
    engine: str = "auto",
) -> GenerationJob:
    """Queue a job that samples K candidates for each chosen prompt; the prompt list is fixed now.

    `engine` says where it samples (trainer_bridge.engines): auto, vllm or transformers.
    """
    if user is not None:
        require_role(user=user, project=project, role=JOB_ROLE)
    if refusal := model_version.adapter_refusal():
        raise DomainError(refusal, field="model_version")
    if model_version.kind == ModelVersion.Kind.RM:
        raise DomainError("a reward model scores answers; it does not write them", field="model_version")
    if model_version.project_id not in (None, project.pk):
        raise DomainError("this model belongs to another project", field="model_version")
    k = project.k if k is None else int(k)
    if not 1 <= k <= MAX_K:
        raise DomainError(f"K is between 1 and {MAX_K}", field="k")
    if not 1 <= batch_size <= 512:
        raise DomainError("batch_size is between 1 and 512", field="batch_size")
    if limit is not None and limit < 1:
        raise DomainError("limit is at least 1", field="limit")
    if engine not in ENGINES:
        raise DomainError(f"engine is one of {list(ENGINES)}", field="engine")
    sampling = _sampling(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p)
    if prompt_ids is not None:
        chosen = list(
            Prompt.objects.filter(project=project, pk__in=prompt_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if missing := sorted(set(prompt_ids) - set(chosen)):
            raise DomainError(f"prompts {missing[:10]} are not in this project", field="prompt_ids")
        prompt_filter: dict[str, Any] = {"prompt_ids": len(chosen)}
    else:
        chosen = list(
            prompts_for_generation(project=project, which=which, source=source, limit=limit).values_list(
                "pk", flat=True
            )
        )
        prompt_filter = {"which": which, "source": source, "limit": limit}
    if not chosen:
        raise DomainError("no prompt matches: nothing to generate for", field="which")
    job = GenerationJob.objects.create(
        type=JobType.GENERATION,
        project=project,
        model_version=model_version,
        prompt_filter=prompt_filter,
        prompt_ids=chosen,
        k=k,
        sampling_params=sampling,
        seed=seed,
        batch_size=batch_size,
        engine=engine,
        progress_total=len(chosen),
        created_by=user,
    )
    job_log(job, f"queued: {len(chosen)} prompts × K={k} from {model_version.name} (engine: {engine})")
    job_dispatch(job)
    return job


def prompt_seed(job: GenerationJob, prompt_id: int) -> int:
    """Each prompt samples from its own seed, so a retried prompt gets the very same answers (where the
    engine guarantees it: docs/operations.md). Below 2**62: vLLM seeds the K samples seed, seed + 1, ..."""
    return (job.seed * 1_000_003 + prompt_id) % 2**62


def storable(text: str) -> str:
    """A sampled answer as Postgres can hold it: a model may emit a NUL byte, which a text column refuses."""
    return text.replace("\x00", "")


def _complete_prompt_ids(prompt_ids: list[int], model_name: str, k: int) -> set[int]:
    return set(
        Candidate.objects.filter(prompt_id__in=prompt_ids, model_name=model_name, sample_index__lt=k)
        .values("prompt_id")
        .annotate(n=Count("id"))
        .filter(n=k)
        .values_list("prompt_id", flat=True)
    )


def generation_work(run: Run, job: GenerationJob) -> None:
    """Run (or resume) a generation job; prompts that already have their K candidates are skipped."""
    model = job.model()
    model_name = model.candidate_model_name
    prompts = list(Prompt.objects.filter(pk__in=job.prompt_ids).select_related("project").order_by("pk"))
    done = _complete_prompt_ids(job.prompt_ids, model_name, job.k)
    todo = [p for p in prompts if p.pk not in done]
    run.update(progress_done=len(prompts) - len(todo), progress_total=len(prompts))
    if done:
        run.log(f"{len(done)} of {len(prompts)} prompts already have their {job.k} candidates; skipping them")
    if todo:
        used = {"engine": job.engine}

        def on_batch(start: int, batch_candidates: list[list[str]]) -> None:
            batch = todo[start : start + len(batch_candidates)]
            ids = [p.pk for p in batch]
            rows = [
                Candidate(
                    prompt=prompt,
                    text=storable(text),
                    model_name=model_name,
                    model_version_id=model.pk,
                    sample_index=index,
                    sampling_params=job.sampling_params
                    | {"seed": prompt_seed(job, prompt.pk), "generation_job": job.pk}
                    | used,
                )
                for prompt, texts in zip(batch, batch_candidates, strict=True)
                for index, text in enumerate(texts)
            ]
            with transaction.atomic():  # the batch's candidates and the progress that counts them, together
                before = Candidate.objects.filter(prompt_id__in=ids, model_name=model_name).count()
                Candidate.objects.bulk_create(
                    rows, ignore_conflicts=True
                )  # a retried batch adds nothing twice
                tasks = ranking_tasks_create(project=job.project, prompt_ids=ids)
                evaluation_tasks_create(project=job.project, prompt_ids=ids)  # a blind comparison's answers
                added = Candidate.objects.filter(prompt_id__in=ids, model_name=model_name).count() - before
                run.update(progress_done=F("progress_done") + len(batch))
                GenerationJob.objects.filter(pk=job.pk).update(
                    candidates_created=F("candidates_created") + added,
                    ranking_tasks_created=F("ranking_tasks_created") + tasks,
                )
            run.check()

        sample_answers(
            model=model,
            prompts=[p.messages for p in todo],
            k=job.k,
            seeds=[prompt_seed(job, p.pk) for p in todo],
            batch_size=job.batch_size,
            on_batch=on_batch,
            log=run.log,
            should_stop=run.should_stop,
            engine=job.engine,
            on_engine=lambda name: used.update(engine=name),
            **job.sampling_params,
        )
        run.check()
    missing = len(job.prompt_ids) - len(_complete_prompt_ids(job.prompt_ids, model_name, job.k))
    if missing:
        raise DomainError(f"{missing} prompts are still short of {job.k} candidates")
    finished = GenerationJob.objects.get(pk=job.pk)
    run.finish(
        JobStatus.DONE,
        line=(
            f"done: {len(prompts)} prompts have {job.k} candidates each; this job added "
            f"{finished.candidates_created} candidates and {finished.ranking_tasks_created} ranking tasks"
        ),
    )
