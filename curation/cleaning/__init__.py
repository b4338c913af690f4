"""Cleaning: near-duplicate detection (MinHash), text quality, personal data and evaluation-set
contamination, run over a project's prompts and demonstrations as flags with reasons."""
