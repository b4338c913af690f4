"""The GRPO entry module: `python -m trainer_bridge.ml.grpo_train <config.json>` on every torchrun rank.

Config (written by trainer_bridge.services.grpo): {"model_dir": ..., "train": <rows.json>,
"heldout": <rows.json>, "reward_model_dir": ... or null, "hparams": {GRPOSettings fields}}. Rank 0
reports `progress` events (step, total, metrics), `log` lines (a verifier that raised), a `refused`
event when the data cannot be trained on, and the `result`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from trainer_bridge.ml.config import GRPOSettings
from trainer_bridge.ml.launch import entry_config, report

REFUSED_EXIT = 3


def main(argv: list[str]) -> int:
    config = entry_config(argv)
    from trainer_bridge.ml.grpo import train_grpo  # after the watchdog is up: torch and TRL take seconds

    rows: dict[str, list[dict[str, Any]]] = {
        split: json.loads(Path(config[split]).read_text()) for split in ("train", "heldout")
    }
    try:
        result = train_grpo(
            config["model_dir"],
            rows["train"],
            rows["heldout"],
            GRPOSettings(**config["hparams"]),
            reward_model_dir=config.get("reward_model_dir"),
            on_progress=lambda step, total, metrics: report(
                "progress", step=step, total=total, metrics=metrics
            ),
            on_line=lambda line: report("log", line=line),
        )
    except ValueError as exc:
        report("refused", message=str(exc))
        print(f"refused: {exc}", file=sys.stderr)
        return REFUSED_EXIT
    report("result", **result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
