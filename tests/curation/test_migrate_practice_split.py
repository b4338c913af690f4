"""Upgrading to the practice-set split gives every existing set seed 0, a validation fraction of 0.1, and
each of its problems the split an upload with those gives."""

import psycopg
import pytest

from curation.practice import problem_split
from tests.trainer_bridge.test_migrate_to_one_job_family import _manage, scratch_database

__all__ = ["scratch_database"]  # the fixture, shared with the job-family upgrade test

PROBLEMS = [f"What is {a} times {a + 3}?" for a in range(60)] + ["what is 0 TIMES 3"]

OLD_ROWS = """
INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,
    is_active, date_joined) VALUES (1, '!', true, 'ada', '', '', '', true, true, now());
INSERT INTO guidelines_guideline (id, title, draft_body, created_at) VALUES (1, 'g', '', now());
INSERT INTO labeling_project (id, name, description, task_kinds, k, overlap, lease_seconds, created_at,
    guideline_id, gold_rate) VALUES (1, 'p', '', '{ranking}', 4, 1, 600, now(), 1, 0);
INSERT INTO curation_practiceset (id, name, created_at, project_id, uploaded_by_id)
    VALUES (1, 'products', now(), 1, 1);
"""


@pytest.mark.slow
def test_an_upgrade_splits_the_problems_of_existing_practice_sets(scratch_database):
    _manage(scratch_database, "auth")
    _manage(scratch_database, "curation", "0006_runs_are_jobs")
    with psycopg.connect(scratch_database, autocommit=True) as db:
        db.execute(OLD_ROWS)
        for line, problem in enumerate(PROBLEMS, start=1):
            db.execute(
                "INSERT INTO curation_practiceproblem (line, problem, answer, verifier, options, "
                "practice_set_id) VALUES (%s, %s, '0', 'numeric', '{}', 1)",
                (line, problem),
            )

    _manage(scratch_database)

    with psycopg.connect(scratch_database) as db:
        assert db.execute("SELECT split_seed, validation_fraction FROM curation_practiceset").fetchall() == [
            (0, 0.1)
        ]
        stored = dict(db.execute("SELECT problem, split FROM curation_practiceproblem").fetchall())
    assert stored == {p: problem_split(p, seed=0, validation_fraction=0.1) for p in PROBLEMS}
    assert set(stored.values()) == {"train", "validation"}
    assert stored["What is 0 times 3?"] == stored["what is 0 TIMES 3"]
