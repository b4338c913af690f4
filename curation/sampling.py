"""Running a sampling run: a model answers every item of a set `samples` times, and the answers are stored.

Probe runs and practice runs share this. The model is called through `Generate`, whose default is
`trainer_bridge.ml.generate.generate_candidates`, imported only inside the run so that the web process
never loads torch. A run is safe to execute twice: items that already hold all their samples are
skipped, answers land on a unique key, and each item samples from its own seed, so a retried item
gets the answers it would have had the first time.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone

from curation.practice_models import SamplingRun, SamplingStatus

Messages = list[dict[str, Any]]
# generate(model_dir, prompts, *, k, max_new_tokens, temperature, seeds, on_batch) -> k texts per prompt
Generate = Callable[..., list[list[str]]]
Progress = Callable[[int, int], None]  # (items done, items in all)
R = TypeVar("R", bound=SamplingRun)


@dataclass(frozen=True)
class Item:
    pk: int
    messages: Messages


def model_generate() -> Generate:
    from trainer_bridge.ml.generate import generate_candidates

    return generate_candidates


def item_seed(run: SamplingRun, item_id: int) -> int:
    return (run.seed * 1_000_003 + item_id) % (2**63)


def run_claim(model: type[R], run_id: int) -> R | None:
    """Mark the run running unless it is finished; a failed run may be executed again."""
    with transaction.atomic():
        run = model.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status == SamplingStatus.DONE:
            return None
        run.status, run.error = SamplingStatus.RUNNING, ""
        run.save(update_fields=["status", "error"])
    return run


def run_finish(run: SamplingRun, *, error: str = "") -> None:
    run.status = SamplingStatus.FAILED if error else SamplingStatus.DONE
    run.error, run.finished_at = error, timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])


def sample_items(
    run: SamplingRun,
    items: Sequence[Item],
    *,
    done: set[int],
    store: Callable[[int, list[str]], None],
    generate: Generate,
    batch_size: int = 8,
    on_progress: Progress | None = None,
) -> None:
    """Generate `run.samples` answers for every item not in `done`, storing each batch as it finishes."""
    todo = [item for item in items if item.pk not in done]
    run.progress_total, run.progress_done = len(items), len(items) - len(todo)
    run.save(update_fields=["progress_total", "progress_done"])
    if on_progress is not None:
        on_progress(run.progress_done, run.progress_total)
    if not todo:
        return

    def on_batch(first: int, answers: list[list[str]]) -> None:
        for item, texts in zip(todo[first : first + len(answers)], answers, strict=True):
            store(item.pk, texts)
        run.progress_done += len(answers)
        run.save(update_fields=["progress_done"])
        if on_progress is not None:
            on_progress(run.progress_done, run.progress_total)

    generate(
        run.model_path,
        [item.messages for item in todo],
        k=run.samples,
        max_new_tokens=run.max_new_tokens,
        temperature=run.temperature,
        seeds=[item_seed(run, item.pk) for item in todo],
        batch_size=batch_size,
        on_batch=on_batch,
    )
