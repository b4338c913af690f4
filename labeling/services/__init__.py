"""Every write in labeling: one intention, one transaction, by room (projects, imports, queue, annotations,
review, drafts, corpora)."""
