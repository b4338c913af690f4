"""What the model and job commands share: finding a project or model, and running or waiting for a job."""

import argparse
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, OutputWrapper

from labeling.models import Project
from trainer_bridge.models import GenerationJob, JobStatus, ModelVersion, TrainingJob


def project_named(ref: str) -> Project:
    lookup = {"pk": int(ref)} if ref.isdigit() else {"name": ref}
    project = Project.objects.filter(**lookup).first()
    if project is None:
        raise CommandError(f"there is no project {ref!r}")
    return project


def model_named(ref: str) -> ModelVersion:
    lookup = {"pk": int(ref)} if ref.isdigit() else {"name": ref}
    model = ModelVersion.objects.filter(**lookup).first()
    if model is None:
        raise CommandError(f"there is no model {ref!r} (see the models page, or register one)")
    return model


def user_named(username: str | None) -> Any:
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"there is no user {username!r}")
    return user


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--inline", action="store_true", help="run the job in this process (no worker needed)")
    how.add_argument("--wait", action="store_true", help="queue the job and wait until a worker finishes it")


def follow(job: GenerationJob | TrainingJob, *, inline: bool, wait: bool, stdout: OutputWrapper) -> None:
    """Run the job here, or wait for it, printing the log as it grows; a failed job is a CommandError."""
    model = type(job)
    if inline:
        if isinstance(job, GenerationJob):
            from trainer_bridge.generation import generation_job_run

            generation_job_run(job_id=job.pk)
        else:
            from trainer_bridge.training import training_job_run

            training_job_run(job_id=job.pk)
    elif not wait:
        stdout.write(f"queued {model.__name__} #{job.pk}; follow it on the jobs page")
        return
    shown = 0
    while True:
        job = model.objects.get(pk=job.pk)
        lines = job.log.splitlines()
        for line in lines[shown:]:
            stdout.write(line)
        shown = len(lines)
        if job.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED):
            break
        time.sleep(1.0)
    if job.status != JobStatus.DONE:
        raise CommandError(f"{model.__name__} #{job.pk} is {job.status}: {job.error}")
