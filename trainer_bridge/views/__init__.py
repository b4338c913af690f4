"""trainer_bridge pages, by room: exports, models, jobs, retrain, probe and practice sets."""
