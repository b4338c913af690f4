"""A training run under torchrun (trainer_bridge.ml.launch), supervised by the job's worker: the data
written where the processes read it, their events recorded as the job's progress and log, a refusal of
the data kept as the reason, the job's cancel honoured; each step's figures kept as a point."""

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.errors import DomainError
from trainer_bridge.jobs.lifecycle import Run
from trainer_bridge.models import JobMetric


def finite(values: dict[str, Any]) -> dict[str, Any]:
    """JSON for Postgres: a diverged run's NaN or infinite loss is stored as null."""
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            clean[key] = None
        elif isinstance(value, dict):
            clean[key] = finite(value)
        else:
            clean[key] = value
    return clean


def progress_record(run: Run, job_id: int, step: int, total: int, metrics: dict[str, Any]) -> dict[str, Any]:
    """Keep a step's figures as the job's point at that step (a step reported again replaces its point)
    and as its progress; returns them as stored."""
    values = finite(metrics)
    JobMetric.objects.bulk_create(
        [JobMetric(job_id=job_id, step=step, values=values)],
        update_conflicts=True,
        unique_fields=["job", "step"],
        update_fields=["values"],
    )
    run.update(progress_done=step, progress_total=total, latest_metrics=values)
    return values


def launch_supervised(
    run: Run,
    *,
    entry: str,
    output_dir: Path,
    rows: dict[str, list[dict[str, Any]]],
    config: dict[str, Any],
    cfg: Any,
    on_progress: Any,
    started: str,
) -> dict[str, Any]:
    """Run `entry` on cfg.processes processes with `config`, plus each of `rows` as a JSON file (its name
    the key) and cfg as `hparams`; returns the run's result. `started` is the log line that opens it."""
    from trainer_bridge.ml.launch import LaunchFailed, LaunchStopped, launch  # no torch in the supervisor

    data = output_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name, values in rows.items():
        (data / f"{name}.json").write_text(json.dumps(values))
        config = config | {name: str(data / f"{name}.json")}
    hparams = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
    refused: list[str] = []

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "progress":
            on_progress(event["step"], event["total"], event["metrics"])
        elif event["event"] == "log":
            run.log(event["line"])
        elif event["event"] == "refused":
            refused.append(event["message"])

    run.log(started)
    try:
        launched = launch(
            entry=entry,
            config=config | {"hparams": hparams},
            workdir=output_dir / "launch",
            processes=cfg.processes,
            on_event=on_event,
            should_stop=run.should_stop,
        )
    except LaunchStopped:
        run.log("the training processes were ended")
        run.check()  # raises JobStopped: cancelled, or another run holds the job now
        raise
    except LaunchFailed as exc:
        if refused:  # the data or options cannot be trained on: a reason, not a crash
            raise DomainError(refused[-1]) from None
        run.log(f"{exc.message}; the end of their output:\n{exc.tail}")
        raise DomainError(f"{exc.message} (the job log shows the end of their output)") from None
    return launched.result
