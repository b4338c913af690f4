"""curation's data: frozen snapshots, cleaning, gold answers, probe and practice sets."""

from curation.models.cleaning import (
    CleaningFilter,
    CleaningFlag,
    CleaningRun,
    CleaningSettings,
    CleaningTarget,
    DuplicateCluster,
    EvalItem,
    EvalSet,
    KeepRule,
)
from curation.models.sets import (
    GoldAnswer,
    PracticeProblem,
    PracticeSet,
    PracticeSplit,
    ProbeQuestion,
    ProbeSet,
    Verifier,
)
from curation.models.snapshots import DatasetSnapshot, SnapshotRow

__all__ = [
    "CleaningFilter",
    "CleaningFlag",
    "CleaningRun",
    "CleaningSettings",
    "CleaningTarget",
    "DatasetSnapshot",
    "DuplicateCluster",
    "EvalItem",
    "EvalSet",
    "GoldAnswer",
    "KeepRule",
    "PracticeProblem",
    "PracticeSet",
    "PracticeSplit",
    "ProbeQuestion",
    "ProbeSet",
    "SnapshotRow",
    "Verifier",
]
