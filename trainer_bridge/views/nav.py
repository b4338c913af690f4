"""What the model, job and retrain pages share: the tabs and who may act."""

from typing import Any

from labeling.access import has_role, project_nav
from registry.models import ModelVersion
from trainer_bridge.jobs.lifecycle import JOB_ROLE
from trainer_bridge.selectors import (
    model_lineage,
)


def tab_context(project: Any, role: str, tab: str) -> dict[str, Any]:
    active = "models" if tab == "models" else "jobs"  # retrain policies sit under the Jobs tab
    return project_nav(project, role, active) | {"tab": tab, "is_admin": has_role(role, JOB_ROLE)}


def lineage_text(model: ModelVersion) -> str:
    return " ← ".join(m.name for m in model_lineage(model=model))
