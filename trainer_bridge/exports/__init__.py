"""Exports of frozen snapshots (SFT, reward model, prompts) and the jobs that run them in the background."""

from trainer_bridge.exports.core import (
    KINDS,
    ExportEmpty,
    ExportFailed,
    ExportResult,
    default_export_path,
    export_options,
    export_prompts,
    export_rm,
    export_sft,
    run_export,
)

__all__ = [
    "KINDS",
    "ExportEmpty",
    "ExportFailed",
    "ExportResult",
    "default_export_path",
    "export_options",
    "export_prompts",
    "export_rm",
    "export_sft",
    "run_export",
]
