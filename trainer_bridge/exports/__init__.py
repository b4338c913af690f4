"""Exports of frozen snapshots (SFT, reward model, prompts) and of practice sets (problems, a run's
solutions), for TRL, verl or OpenRLHF, and the jobs that run them in the background."""

from trainer_bridge.exports.core import (
    KINDS,
    LAYOUTS,
    PRACTICE_KINDS,
    ExportEmpty,
    ExportFailed,
    ExportResult,
    default_export_path,
    export_options,
    export_prompts,
    export_rm,
    export_sft,
    practice_export_options,
    practice_export_path,
    run_export,
    run_practice_export,
)

__all__ = [
    "KINDS",
    "LAYOUTS",
    "PRACTICE_KINDS",
    "ExportEmpty",
    "ExportFailed",
    "ExportResult",
    "default_export_path",
    "export_options",
    "export_prompts",
    "export_rm",
    "export_sft",
    "practice_export_options",
    "practice_export_path",
    "run_export",
    "run_practice_export",
]
