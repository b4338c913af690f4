"""What probe and practice jobs share: a model answers every item of a set `samples` times, stored as it goes.

Resuming is safe: items that already hold all their samples are skipped, answers land on a unique key,
and each item samples from its own seed, so a retried item gets the answers it would have had the
first time. They sample through trainer_bridge.engines: the version's model server when one answers,
else Coach's own loop, whose model code (torch) is imported inside the run.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import F, QuerySet

from core.errors import DomainError
from core.types import User
from labeling.access import require_role
from labeling.models import Project
from registry.models import ModelVersion
from trainer_bridge.jobs.lifecycle import JOB_ROLE, Run, job_log
from trainer_bridge.jobs.queue import job_dispatch
from trainer_bridge.models import PracticeRun, ProbeRun

Messages = list[dict[str, Any]]
MAX_SAMPLES = 64


@dataclass(frozen=True)
class Item:
    pk: int
    messages: Messages


def check_sampling(*, model_version: ModelVersion, project_id: int, samples: int) -> None:
    if refusal := model_version.adapter_refusal():
        raise DomainError(refusal, field="model_version")
    if model_version.kind == ModelVersion.Kind.RM:
        raise DomainError("a reward model scores answers; it does not write them", field="model_version")
    if model_version.project_id not in (None, project_id):
        raise DomainError("this model belongs to another project", field="model_version")
    if not 1 <= samples <= MAX_SAMPLES:
        raise DomainError(f"samples must be between 1 and {MAX_SAMPLES}", field="samples")


R = TypeVar("R", ProbeRun, PracticeRun)


def sampling_run_create(
    model: type[R],
    job_type: str,
    *,
    project: Project,
    model_version: ModelVersion,
    samples: int,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    user: User | None,
    dispatch: bool,
    items: int,
    what: str,
    **details: Any,
) -> R:
    """Check and queue a probe or practice run (or only record it, with dispatch=False)."""
    if user is not None:
        require_role(user=user, project=project, role=JOB_ROLE)
    check_sampling(model_version=model_version, project_id=project.pk, samples=samples)
    run = model.objects.create(
        type=job_type,
        project=project,
        model_version=model_version,
        model_name=model_version.candidate_model_name,
        samples=samples,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        created_by=user,
        progress_total=items,
        **details,
    )
    job_log(run, f"queued: {samples} {what} from {model_version.name}")
    if dispatch:
        job_dispatch(run)
    return run


def item_seed(job: ProbeRun | PracticeRun, item_id: int) -> int:
    return (job.seed * 1_000_003 + item_id) % (2**62)  # below 2**62: see generation.prompt_seed


def items_done(answers: QuerySet[Any], item_field: str, samples: int) -> set[int]:
    """The items that already hold all their samples."""
    counts = Counter(answers.values_list(item_field, flat=True))
    return {pk for pk, n in counts.items() if n >= samples}


def sample_items(
    run: Run,
    job: ProbeRun | PracticeRun,
    items: Sequence[Item],
    *,
    done: set[int],
    store: Callable[[int, list[str]], None],
    batch_size: int = 8,
) -> None:
    """Generate `job.samples` answers for every item not in `done`, storing each batch as it finishes."""
    todo = [item for item in items if item.pk not in done]
    run.update(progress_done=len(items) - len(todo), progress_total=len(items))
    if done:
        run.log(f"{len(done)} of {len(items)} items already hold their {job.samples} samples; skipping them")
    if not todo:
        return
    from trainer_bridge.engines import sample_answers

    def on_batch(first: int, answers: list[list[str]]) -> None:
        for item, texts in zip(todo[first : first + len(answers)], answers, strict=True):
            store(item.pk, [text.replace("\x00", "") for text in texts])
        run.update(progress_done=F("progress_done") + len(answers))
        run.check()

    model = job.model()
    run.log(f"sampling {job.samples} answers for {len(todo)} items from {model.name}")
    sample_answers(
        model=model,
        prompts=[item.messages for item in todo],
        k=job.samples,
        max_new_tokens=job.max_new_tokens,
        temperature=job.temperature,
        seeds=[item_seed(job, item.pk) for item in todo],
        batch_size=batch_size,
        on_batch=on_batch,
        log=run.log,
        should_stop=run.should_stop,
    )
