"""REST API of trainer_bridge: snapshots and exports, models, jobs, retrain policies."""
