"""Every read in labeling, by room (projects, work, annotations, review, dashboard)."""
