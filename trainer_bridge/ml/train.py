"""The training entry module: `python -m trainer_bridge.ml.train <config.json>` on every torchrun rank.

Config (written by trainer_bridge.services.training): {"kind": "sft" | "rm", "model_dir": ...,
"train": <rows.json>, "val": <rows.json>, "hparams": {SFTConfig / RMConfig fields}}. Rank 0 reports
`progress` events (step, total, metrics), a `refused` event when the data or options cannot be
trained on (the job fails with that reason), and the `result`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from trainer_bridge.ml.config import RMConfig, SFTConfig
from trainer_bridge.ml.launch import entry_config, report

REFUSED_EXIT = 3


def main(argv: list[str]) -> int:
    config = entry_config(argv)
    import torch  # after the watchdog is up: importing torch takes seconds

    rows: dict[str, list[dict[str, Any]]] = {
        split: json.loads(Path(config[split]).read_text()) for split in ("train", "val")
    }

    def on_progress(step: int, total: int, metrics: dict[str, Any]) -> None:
        report("progress", step=step, total=total, metrics=metrics)

    try:
        if config["kind"] == "sft":
            from trainer_bridge.ml.sft import train_sft

            result = train_sft(
                config["model_dir"],
                rows["train"],
                rows["val"],
                SFTConfig(**config["hparams"]),
                on_progress=on_progress,
            )
        else:
            from trainer_bridge.ml.reward import train_reward_model

            result = train_reward_model(
                config["model_dir"],
                rows["train"],
                rows["val"],
                RMConfig(**config["hparams"]),
                on_progress=on_progress,
            )
    except ValueError as exc:  # data or options it cannot train on, with the reason
        report("refused", message=str(exc))
        print(f"refused: {exc}", file=sys.stderr)
        return REFUSED_EXIT
    report("result", **result)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
