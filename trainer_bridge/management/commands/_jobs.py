"""What the job commands share: run the job here, queue it, or queue it and wait, showing progress."""

import argparse
import time
from typing import Any

from django.core.management.base import CommandError, OutputWrapper

from core.commands import progress_bar
from trainer_bridge.jobs.kinds import KINDS
from trainer_bridge.jobs.lifecycle import job_run
from trainer_bridge.models import Job, JobStatus


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--inline", action="store_true", help="run the job in this process (no worker needed)")
    how.add_argument("--wait", action="store_true", help="queue the job and wait until a worker finishes it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def follow(job: Job, *, options: dict[str, Any], stdout: OutputWrapper) -> Job:
    """Run the job here, or wait for it, with a progress bar and its log; a failed job is a CommandError."""
    label = f"{KINDS[job.type].label} job #{job.pk}"
    if not options["inline"] and not options["wait"]:
        stdout.write(f"queued {label}; follow it on the jobs page")
        return job
    with progress_bar(not options.get("no_progress"), label) as bar:
        if options["inline"]:
            job_run(job_id=job.pk, on_progress=bar)
        while (job := Job.objects.get(pk=job.pk)).status not in Job.FINISHED:
            bar(job.progress_done, job.progress_total)
            time.sleep(1.0)
    for line in job.log.splitlines():
        stdout.write(line)
    if job.status != JobStatus.DONE:
        raise CommandError(f"{label} is {job.status}: {job.error}")
    return job
