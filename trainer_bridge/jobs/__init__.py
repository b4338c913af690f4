"""The one job system: every piece of background work (export, generation, training, refusal probe,
practice sampling, ...) is a `Job` with one lifecycle.

- `kinds`: the table of job types: the details model, the function that does the work, the queue.
- `lifecycle`: claim, heartbeat, progress, cancel, retry, resume after a lost worker, log, finish.
- `queue`: sending a job to the Celery broker, failing fast when it is down.

A job kind is a module of trainer_bridge.services with a `*_start` service (checks, creates the job,
dispatches it) and a work function `(run, job) -> None` that the lifecycle calls; CONTRIBUTING.md says
how to add one.
"""
