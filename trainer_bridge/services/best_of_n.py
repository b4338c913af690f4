"""Best-of-N jobs: a model version answers each prompt N times (trainer_bridge.engines: a vLLM or other
model server, else Coach's transformers loop), a reward-model version scores every answer
(trainer_bridge.ml.reward.score), and the best answer of each prompt becomes an SFT row of a new frozen
snapshot (curation.snapshots.snapshot_freeze_model_answers), as Llama 3 does for its rejection sampling.

Resuming is safe at every stage: answers land on a unique key (job, prompt, sample index) and prompts that
hold their N are not sampled again; a prompt's scores are stored in one transaction and scored prompts are
skipped; the snapshot is made once, in the transaction that ends the job.
"""

from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.text import slugify

from core.errors import Conflict, DomainError
from core.types import User
from curation.models import DatasetSnapshot
from curation.snapshots import snapshot_freeze_model_answers
from labeling.access import require_role
from labeling.models import Project, Prompt
from registry.models import ModelVersion
from trainer_bridge.engines import ENGINES
from trainer_bridge.jobs.lifecycle import JOB_ROLE, JobStopped, Run, job_log
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.models import BestOfNJob, BestOfNSample, Job, JobStatus, JobType
from trainer_bridge.services.generation import _sampling, prompts_for_generation, storable

MAX_N = 64


@transaction.atomic
def best_of_n_start(
    *,
    project: Project,
    model_version: ModelVersion,
    reward_model: ModelVersion,
    user: User | None,
    n: int = 4,
    which: str = "all",
    source: str = "",
    limit: int | None = None,
    snapshot_name: str = "",
    validation_fraction: float = 0.1,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 8,
    engine: str = "auto",
) -> BestOfNJob:
    """Queue a job that keeps, for each chosen prompt, the best of `n` answers by the reward model's score."""
    if user is not None:
        require_role(user=user, project=project, role=JOB_ROLE)
    if model_version.kind == ModelVersion.Kind.RM:
        raise DomainError("a reward model scores answers; it does not write them", field="model_version")
    if reward_model.kind != ModelVersion.Kind.RM:
        raise DomainError(f"{reward_model.name} is not a reward model", field="reward_model")
    for field, model in (("model_version", model_version), ("reward_model", reward_model)):
        if model.project_id not in (None, project.pk):
            raise DomainError("this model belongs to another project", field=field)
    if not 1 <= n <= MAX_N:
        raise DomainError(f"N is between 1 and {MAX_N}", field="n")
    if not 1 <= batch_size <= 512:
        raise DomainError("batch_size is between 1 and 512", field="batch_size")
    if limit is not None and limit < 1:
        raise DomainError("limit is at least 1", field="limit")
    if engine not in ENGINES:
        raise DomainError(f"engine is one of {list(ENGINES)}", field="engine")
    if not 0 <= validation_fraction < 1:
        raise DomainError("validation_fraction is at least 0 and below 1", field="validation_fraction")
    sampling = _sampling(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p)
    chosen = list(
        prompts_for_generation(project=project, which=which, source=source, limit=limit).values_list(
            "pk", flat=True
        )
    )
    if not chosen:
        raise DomainError("no prompt matches: nothing to sample for", field="which")
    job = BestOfNJob.objects.create(
        type=JobType.BEST_OF_N,
        project=project,
        model_version=model_version,
        reward_model=reward_model,
        prompt_filter={"which": which, "source": source, "limit": limit},
        prompt_ids=chosen,
        n=n,
        sampling_params=sampling,
        seed=seed,
        batch_size=batch_size,
        engine=engine,
        validation_fraction=validation_fraction,
        progress_total=2 * len(chosen),  # each prompt sampled, then scored
        created_by=user,
    )
    name = snapshot_name.strip() or f"{slugify(project.name) or 'project'}-best-of-{n}-{job.pk}"
    if (
        DatasetSnapshot.objects.filter(project=project, name=name).exists()
        or BestOfNJob.objects.filter(project=project, snapshot_name=name).exists()
    ):
        raise Conflict(f"a snapshot named {name!r} exists or is being made", field="snapshot_name")
    job.snapshot_name = name
    job.save(update_fields=["snapshot_name"])
    job_log(
        job,
        f"queued: best of {n} answers from {model_version.name} for {len(chosen)} prompts, scored by "
        f"{reward_model.name}, into snapshot {name}",
    )
    job_dispatch(job)
    return job


def prompt_seed(job: BestOfNJob, prompt_id: int) -> int:
    """Each prompt samples from its own seed, so a retried prompt gets the same answers (see generation)."""
    return (job.seed * 1_000_003 + prompt_id) % 2**62


def best_answers(samples: list[BestOfNSample]) -> dict[int, BestOfNSample]:
    """The highest-scored answer of each prompt; between equal scores, the first sampled."""
    by_prompt: dict[int, list[BestOfNSample]] = defaultdict(list)
    for sample in samples:
        if sample.score is None:
            raise ValueError(f"answer {sample.sample_index} to prompt {sample.prompt_id} has no score yet")
        by_prompt[sample.prompt_id].append(sample)
    return {
        prompt_id: max(group, key=lambda s: (s.score, -s.sample_index))
        for prompt_id, group in sorted(by_prompt.items())
    }


def best_of_n_work(run: Run, job: BestOfNJob) -> None:
    """Sample, score, keep the best, freeze; each stage resumes where a lost worker stopped."""
    prompts = {p.pk: p for p in Prompt.objects.filter(pk__in=job.prompt_ids)}
    order = [pk for pk in job.prompt_ids if pk in prompts]
    _sample(run, job, [prompts[pk] for pk in order])
    _score(run, job, prompts)
    _freeze(run, job)


def _sample(run: Run, job: BestOfNJob, prompts: list[Prompt]) -> None:
    counts: dict[int, int] = defaultdict(int)
    for prompt_id in BestOfNSample.objects.filter(job=job).values_list("prompt_id", flat=True):
        counts[prompt_id] += 1
    todo = [p for p in prompts if counts[p.pk] < job.n]
    run.update(progress_done=len(prompts) - len(todo), progress_total=2 * len(prompts))
    if len(todo) < len(prompts):
        run.log(f"{len(prompts) - len(todo)} prompts already hold their {job.n} answers; skipping them")
    if not todo:
        return
    from trainer_bridge.engines import sample_answers

    def on_batch(first: int, answers: list[list[str]]) -> None:
        with transaction.atomic():
            BestOfNSample.objects.bulk_create(
                [
                    BestOfNSample(job=job, prompt=prompt, sample_index=i, text=storable(text))
                    for prompt, texts in zip(todo[first : first + len(answers)], answers, strict=True)
                    for i, text in enumerate(texts)
                ],
                ignore_conflicts=True,
            )
            run.update(progress_done=F("progress_done") + len(answers))
        run.check()

    model = job.model()
    run.log(f"sampling {job.n} answers for {len(todo)} prompts from {model.name}")
    engine = sample_answers(
        model=model,
        prompts=[p.messages for p in todo],
        k=job.n,
        seeds=[prompt_seed(job, p.pk) for p in todo],
        batch_size=job.batch_size,
        on_batch=on_batch,
        log=run.log,
        should_stop=run.should_stop,
        engine=job.engine,
        **job.sampling_params,
    )
    run.log(f"sampled with {engine}")


def _score(run: Run, job: BestOfNJob, prompts: dict[int, Prompt]) -> None:
    unscored: dict[int, list[BestOfNSample]] = defaultdict(list)
    waiting = BestOfNSample.objects.filter(job=job, score__isnull=True)
    for sample in waiting.order_by("prompt_id", "sample_index"):
        unscored[sample.prompt_id].append(sample)
    scored_prompts = len(prompts) - len(unscored)
    run.update(progress_done=len(prompts) + scored_prompts)
    if not unscored:
        return
    from trainer_bridge.ml.reward import score  # torch: only GPU workers get here

    reward_model = job.reward_model
    run.log(f"scoring the answers of {len(unscored)} prompts with {reward_model.name}")
    for prompt_id, samples in unscored.items():
        scores = score(reward_model.path, prompts[prompt_id].messages, [s.text for s in samples])
        with transaction.atomic():  # a prompt's scores and the progress that counts them, together
            for sample, value in zip(samples, scores, strict=True):
                sample.score = float(value)
            BestOfNSample.objects.bulk_update(samples, ["score"])
            run.update(progress_done=F("progress_done") + 1)
        run.check()


@transaction.atomic
def _freeze(run: Run, job: BestOfNJob) -> None:
    """The snapshot and the job's end in one transaction: a job is done exactly when its snapshot exists."""
    Job.objects.select_for_update().filter(pk=job.pk).first()  # one freeze at a time
    job = BestOfNJob.objects.select_related("model_version", "reward_model", "project").get(pk=job.pk)
    if job.snapshot is None:
        samples = list(BestOfNSample.objects.filter(job=job))
        by_prompt: dict[int, list[float]] = defaultdict(list)
        for sample in sorted(samples, key=lambda s: (s.prompt_id, s.sample_index)):
            by_prompt[sample.prompt_id].append(float(sample.score or 0.0))
        kept = best_answers(samples)
        model, reward_model = job.model(), job.reward_model
        answers: list[dict[str, Any]] = [
            {
                "prompt_id": sample.prompt_id,
                "sample_id": sample.pk,
                "text": sample.text,
                "model": model.candidate_model_name,
                "best_of_n": {
                    "n": job.n,
                    "sample_index": sample.sample_index,
                    "score": sample.score,
                    "scores": by_prompt[sample.prompt_id],
                    "reward_model": reward_model.candidate_model_name,
                },
            }
            for sample in kept.values()
        ]
        kept_scores = [float(a["best_of_n"]["score"]) for a in answers]
        mean_scores = [sum(s) / len(s) for s in by_prompt.values()]
        job.snapshot = snapshot_freeze_model_answers(
            project=job.project,
            name=job.snapshot_name,
            answers=answers,
            created_by=job.created_by,
            seed=job.seed,
            validation_fraction=job.validation_fraction,
            source={
                "best_of_n": {
                    "job": job.pk,
                    "n": job.n,
                    "model_version": {"id": model.pk, "name": model.name},
                    "reward_model": {"id": reward_model.pk, "name": reward_model.name},
                    "sampling": job.sampling_params | {"seed": job.seed, "engine": job.engine},
                    "prompts": len(answers),
                    "mean_kept_score": sum(kept_scores) / len(kept_scores),
                    "mean_score": sum(mean_scores) / len(mean_scores),
                }
            },
        )
        job.save(update_fields=["snapshot"])
    snapshot = job.snapshot
    assert snapshot is not None
    if not run.finish(
        JobStatus.DONE,
        line=f"done: kept the best of {job.n} answers for {snapshot.row_count} prompts in snapshot "
        f"{snapshot.name} (#{snapshot.pk})",
        progress_done=job.progress_total,
    ):
        raise JobStopped("lost")
