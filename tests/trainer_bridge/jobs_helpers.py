"""Shared by the model and job tests: prompts waiting for candidates, a worker for GPU jobs, waiting."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labeling.models import Project
from labeling.services.imports import prompts_import
from tests.conftest import jsonl
from trainer_bridge.models import GenerationJob, TrainingJob


def import_waiting_prompts(project: Project, n: int) -> list[int]:
    """n ranking prompts with no candidate yet; returns their ids."""
    prompts_import(
        project=project,
        fmt="jsonl",
        task_kind="ranking",
        stream=jsonl([{"external_id": f"q{i}", "prompt": f"What is {i} plus {i + 1}?"} for i in range(n)]),
    )
    return list(project.prompts.order_by("pk").values_list("pk", flat=True))


def gpu_worker(celery_worker: Callable[..., Any], model_root: Path) -> Any:
    """A real worker that beats often, so a cancel or a lost run is noticed within a fraction of a second."""
    return celery_worker(
        COACH_MODEL_ROOT=str(model_root), COACH_JOB_HEARTBEAT_SECONDS="0.2", OMP_NUM_THREADS="1"
    )


def wait_for(
    job: GenerationJob | TrainingJob, done: Callable[[Any], bool], *, timeout: float = 120.0
) -> GenerationJob | TrainingJob:
    """Poll the job's row until `done(job)`; the timeout only keeps a broken run from hanging the suite."""
    deadline = time.monotonic() + timeout
    while True:
        fresh = type(job).objects.get(pk=job.pk)
        if done(fresh) or time.monotonic() > deadline:
            return fresh
        time.sleep(0.02)
