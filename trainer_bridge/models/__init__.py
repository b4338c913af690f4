"""trainer_bridge's data: the one job family, what each trained model learned from, retrain policies."""

from trainer_bridge.models.best_of_n import BestOfNJob, BestOfNSample
from trainer_bridge.models.jobs import (
    DraftingJob,
    ExportJob,
    GenerationJob,
    GRPOJob,
    Job,
    JobMetric,
    JobStatus,
    JobType,
    ServingJob,
    TrainingJob,
)
from trainer_bridge.models.lineage import ModelOrigin
from trainer_bridge.models.merging import MergeJob
from trainer_bridge.models.retrain import RetrainPolicy, RetrainRun
from trainer_bridge.models.sampling import (
    PracticeResult,
    PracticeRun,
    PracticeSolution,
    ProbeAnswer,
    ProbeOutcome,
    ProbeRun,
)
from trainer_bridge.models.scoring import AnswerScore, ScoringJob

__all__ = [
    "AnswerScore",
    "BestOfNJob",
    "BestOfNSample",
    "DraftingJob",
    "ExportJob",
    "GenerationJob",
    "GRPOJob",
    "Job",
    "JobMetric",
    "JobStatus",
    "JobType",
    "MergeJob",
    "ModelOrigin",
    "PracticeResult",
    "PracticeRun",
    "PracticeSolution",
    "ProbeAnswer",
    "ProbeOutcome",
    "ProbeRun",
    "RetrainPolicy",
    "RetrainRun",
    "ScoringJob",
    "ServingJob",
    "TrainingJob",
]
