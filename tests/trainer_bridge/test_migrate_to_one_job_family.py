"""Upgrading a database from before the one job family keeps every job, model and run with its history.

The old schema is built by the real migrations in a scratch database, filled with rows as the old
code wrote them, then migrated to the newest schema in a separate process, as `manage.py migrate` would.
"""

import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.workers import ROOT, worker_database_url

OLD = [("auth",), ("trainer_bridge", "0003_export_heartbeat"), ("curation", "0005_snapshot_rows_lz4")]

OLD_ROWS = """
INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,
    is_active,
    date_joined) VALUES (1, '!', true, 'ada', '', '', '', true, true, now());
INSERT INTO guidelines_guideline (id, title, draft_body, created_at) VALUES (1, 'g', '', now());
INSERT INTO labeling_project (id, name, description, task_kinds, k, overlap, lease_seconds, created_at,
    guideline_id, gold_rate) VALUES (1, 'p', '', '{ranking,refusal}', 4, 1, 600, now(), 1, 0);
INSERT INTO labeling_prompt (id, messages, source, external_id, content_hash, metadata, created_at,
    project_id)
    VALUES (1, '[]', '', 'q1', 'h1', '{}', now(), 1);
INSERT INTO curation_datasetsnapshot (id, name, manifest, row_count, sha256, created_at, project_id)
    VALUES (7, 'v1', '{}', 0, 'abc', now(), 1);
INSERT INTO trainer_bridge_modelversion (id, name, kind, path, metrics, description, created_at,
    parent_id,
    project_id, snapshot_id) VALUES
    (3, 'base', 'base', '/m/base', '{}', '', now(), NULL, NULL, NULL),
    (4, 'p-rm', 'rm', '/m/rm', '{"val_pair_accuracy": 0.9}', '', now(), 3, 1, 7);
INSERT INTO labeling_candidate (id, text, model_name, sampling_params, sample_index, created_at,
    prompt_id)
    VALUES (1, 'made by Coach', 'base@3', '{}', 0, now(), 1), (2, 'imported', 'gpt-x', '{}', 0, now(),
    1);
INSERT INTO trainer_bridge_exportjob (id, kind, options, status, rows_done, rows_total,
    rows_written, file_path,
    file_bytes, file_sha256, error, created_at, finished_at, created_by_id, snapshot_id)
    VALUES (2, 'rm', '{"format": "jsonl"}', 'done', 10, 10, 12, '/x/rm.jsonl', 99, 'f00', '', now(),
    now(), 1, 7);
INSERT INTO trainer_bridge_generationjob (id, status, cancel_requested, progress_done,
    progress_total, log, error,
    attempts, runner, heartbeat_at, created_at, prompt_filter, prompt_ids, k, sampling_params, seed,
    batch_size,
    candidates_created, ranking_tasks_created, project_id, model_version_id) VALUES
    (5, 'done', false, 1, 1, 'old log line\n', '', 1, '', now(), now(), '{}', '{1}', 4, '{}', 0, 8, 4,
    1, 1, 3),
    (6, 'running', false, 0, 1, '', '', 1, 'tok', now(), now(), '{}', '{1}', 4, '{}', 0, 8, 0, 0, 1, 3);
INSERT INTO trainer_bridge_trainingjob (id, status, cancel_requested, progress_done, progress_total,
    log, error,
    attempts, runner, created_at, kind, config, data_options, output_name, output_dir, latest_metrics,
    base_model_id, output_model_id, project_id, snapshot_id) VALUES
    (5, 'done', false, 3, 3, '', '', 1, '', now(), 'rm', '{}', '{"by": "labeler"}', 'p-rm', '/m/rm',
     '{"train_loss": 0.3}', 3, 4, 1, 7);
INSERT INTO trainer_bridge_trainingmetric (step, "values", created_at, job_id) VALUES
    (1, '{"train_loss": 0.7}', now(), 5), (3, '{"train_loss": 0.3}', now(), 5);
INSERT INTO trainer_bridge_retrainpolicy (id, name, kind, min_new_annotations, interval_minutes, crontab,
    training_config, validation_fraction, enabled, created_at, base_model_id, project_id)
    VALUES (1, 'nightly', 'rm', 5, 60, '', '{}', 0.1, true, now(), 3, 1);
INSERT INTO trainer_bridge_retrainrun (outcome, reason, new_annotations, checked_at, policy_id,
    snapshot_id,
    training_job_id) VALUES ('started', 'enough labels', 6, now(), 1, 7, 5);
INSERT INTO curation_probeset (id, name, created_at, project_id, uploaded_by_id) VALUES (1, 'facts',
    now(), 1, 1);
INSERT INTO curation_probequestion (id, line, question, reference, aliases, context, probe_set_id)
    VALUES (1, 1, 'Who?', 'Nobody', '[]', '', 1);
INSERT INTO curation_proberun (id, model_version_id, model_name, model_path, samples,
    max_new_tokens, temperature,
    seed, status, progress_done, progress_total, error, created_at, finished_at, judge, probe_set_id)
    VALUES (5, 3, 'base@3', '/m/base', 2, 8, 1.0, 0, 'done', 1, 1, '', now(), now(), 'exact', 1);
INSERT INTO curation_probeanswer (sample_index, text, correct, question_id, run_id)
    VALUES (0, 'Somebody', false, 1, 5), (1, 'Anyone', false, 1, 5);
INSERT INTO curation_probeoutcome (correct, total, verdict, question_id, run_id) VALUES (0, 2,
    'wrong', 1, 5);
INSERT INTO curation_practiceset (id, name, created_at, project_id, uploaded_by_id) VALUES (1,
    'sums', now(), 1, 1);
INSERT INTO curation_practiceproblem (id, line, problem, answer, verifier, options, practice_set_id)
    VALUES (1, 1, '1+1?', '2', 'numeric', '{}', 1);
INSERT INTO curation_practicerun (id, model_version_id, model_name, model_path, samples, max_new_tokens,
    temperature, seed, status, progress_done, progress_total, error, created_at, finished_at,
    practice_set_id)
    VALUES (5, 999, 'gone@999', '/m/gone', 1, 8, 1.0, 0, 'failed', 0, 1, 'it broke', now(), now(), 1);
INSERT INTO curation_practicesolution (sample_index, text, final_answer, correct, problem_id, run_id)
    VALUES (0, 'Answer: 2', '2', true, 1, 5);
INSERT INTO curation_practiceresult (passed, total, pass_rate, problem_id, run_id) VALUES (1, 1,
    1.0, 1, 5);
"""


def _manage(url: str, *args: str) -> None:
    env = dict(os.environ, DATABASE_URL=url)
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", *args, "--no-input"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


@pytest.fixture
def scratch_database(db):
    server = urlsplit(worker_database_url())
    name = f"coach_migration_{os.getpid()}"
    url = urlunsplit(server._replace(path=f"/{name}"))
    admin_url = urlunsplit(server._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield url
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_an_upgrade_keeps_every_job_model_and_run_with_its_history(scratch_database):
    for target in OLD:
        _manage(scratch_database, *target)
    with psycopg.connect(scratch_database, autocommit=True) as db:
        db.execute(OLD_ROWS)

    _manage(scratch_database)

    with psycopg.connect(scratch_database) as db:

        def rows(sql: str) -> list[tuple]:
            return db.execute(sql).fetchall()

        # the registry kept the models and their ids; lineage moved beside the jobs
        assert rows("SELECT id, name, parent_id FROM registry_modelversion ORDER BY id") == [
            (3, "base", None),
            (4, "p-rm", 3),
        ]
        assert rows("SELECT model_id, snapshot_id FROM trainer_bridge_modelorigin") == [(4, 7)]
        assert rows("SELECT id, model_version_id FROM labeling_candidate ORDER BY id") == [(1, 3), (2, None)]

        jobs = rows(
            "SELECT type, status, model_version_id, output_model_id, heartbeat_at IS NULL, log FROM "
            "trainer_bridge_job ORDER BY id"
        )
        assert [(t, s, m, o) for t, s, m, o, _, _ in jobs] == [
            ("export", "done", None, None),
            ("generation", "done", 3, None),
            ("generation", "running", 3, None),  # left running with no heartbeat: resume-stale queues it
            ("training", "done", 3, 4),
            ("probe", "done", 3, None),
            ("practice", "failed", None, None),  # its model was gone: the run keeps its history, no model
        ]
        assert jobs[2][4] is True and jobs[1][4] is False
        assert jobs[1][5].startswith("old log line\n") and "it was generation job #5" in jobs[1][5]
        assert "it was training job #5" in jobs[3][5] and "it was practice run #5" in jobs[5][5]

        assert rows("SELECT kind, file_path, rows_written, file_sha256 FROM trainer_bridge_exportjob") == [
            ("rm", "/x/rm.jsonl", 12, "f00")
        ]
        training = rows("SELECT job_ptr_id FROM trainer_bridge_trainingjob")[0][0]
        assert rows(f"SELECT step FROM trainer_bridge_jobmetric WHERE job_id = {training} ORDER BY step") == [
            (1,),
            (3,),
        ]
        assert rows("SELECT training_job_id FROM trainer_bridge_retrainrun") == [(training,)]
        probe = rows("SELECT job_ptr_id, judge, model_name FROM trainer_bridge_proberun")
        assert [(j, m) for _, j, m in probe] == [("exact", "base@3")]
        assert rows(f"SELECT count(*) FROM trainer_bridge_probeanswer WHERE run_id = {probe[0][0]}") == [(2,)]
        assert rows(f"SELECT verdict FROM trainer_bridge_probeoutcome WHERE run_id = {probe[0][0]}") == [
            ("wrong",)
        ]
        assert rows("SELECT pass_rate FROM trainer_bridge_practiceresult") == [(1.0,)]
        assert rows("SELECT error FROM trainer_bridge_job WHERE type = 'practice'") == [("it broke",)]
        old_tables = rows(
            "SELECT table_name FROM information_schema.tables WHERE table_name IN ('curation_proberun', "
            "'trainer_bridge_trainingmetric', 'trainer_bridge_legacytrainingjob', "
            "'trainer_bridge_modelversion')"
        )
        assert old_tables == []
