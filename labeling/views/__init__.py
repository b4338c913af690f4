"""Labeling web pages, by room: home, work, review, projects, imports, corpora, dashboard, guidelines."""
