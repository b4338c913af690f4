"""One job family: exports, generation and training jobs, refusal probe runs and practice runs become
children of one `Job` table with one lifecycle (status, progress, heartbeat, cancel, resume, log,
metrics, the model versions used and made). The model registry now lives in `registry`.

Every job keeps its history (status, log, progress, files, metrics, answers, pass rates); jobs are
numbered anew, and each log says which job it was before. A job that was queued or running when the
migration ran is left running with no heartbeat, so the resume-stale beat queues it again at once.
"""

import django.contrib.postgres.fields
import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODEL = "registry.modelversion"
_LOG = "to_char(now(), 'YYYY-MM-DD HH24:MI:SS') || ' moved into the one job system; it was {what} #' || {id} || E'\\n'"
_ACTIVE = "CASE WHEN {s} IN ('queued', 'running') THEN 'running' ELSE {s} END"
JOB_COLUMNS = (
    "type, project_id, model_version_id, output_model_id, status, cancel_requested, progress_done, "
    "progress_total, latest_metrics, log, error, attempts, runner, heartbeat_at, created_by_id, created_at, "
    "started_at, finished_at, legacy_id"
)


def _job_insert(select: str) -> str:
    return f"INSERT INTO trainer_bridge_job ({JOB_COLUMNS}) {select}"


def _real_model(column: str) -> str:
    """A probe or practice run named its model by id, without a key: keep it only if it still exists."""
    return f"(SELECT m.id FROM registry_modelversion m WHERE m.id = {column})"


COPY = [
    "ALTER TABLE trainer_bridge_job ADD COLUMN legacy_id bigint",
    # exports
    _job_insert(
        "SELECT 'export', s.project_id, NULL, NULL, "
        + _ACTIVE.format(s="e.status")
        + ", false, e.rows_done, e.rows_total, '{}'::jsonb, "
        + _LOG.format(what="export", id="e.id")
        + ", e.error, 0, '', CASE WHEN e.status IN ('queued', 'running') THEN NULL ELSE e.heartbeat_at END, "
        "e.created_by_id, e.created_at, e.started_at, e.finished_at, e.id "
        "FROM trainer_bridge_legacyexportjob e JOIN curation_datasetsnapshot s ON s.id = e.snapshot_id ORDER BY e.id"
    ),
    "INSERT INTO trainer_bridge_exportjob (job_ptr_id, snapshot_id, kind, options, rows_written, file_path, "
    "file_bytes, file_sha256) SELECT j.id, e.snapshot_id, e.kind, e.options, e.rows_written, e.file_path, "
    "e.file_bytes, e.file_sha256 FROM trainer_bridge_legacyexportjob e "
    "JOIN trainer_bridge_job j ON j.type = 'export' AND j.legacy_id = e.id",
    # generation
    _job_insert(
        "SELECT 'generation', g.project_id, g.model_version_id, NULL, "
        + _ACTIVE.format(s="g.status")
        + ", g.cancel_requested, g.progress_done, g.progress_total, '{}'::jsonb, g.log || "
        + _LOG.format(what="generation job", id="g.id")
        + ", g.error, g.attempts, '', CASE WHEN g.status IN ('queued', 'running') THEN NULL ELSE g.heartbeat_at END, "
        "g.created_by_id, g.created_at, g.started_at, g.finished_at, g.id "
        "FROM trainer_bridge_legacygenerationjob g ORDER BY g.id"
    ),
    "INSERT INTO trainer_bridge_generationjob (job_ptr_id, prompt_filter, prompt_ids, k, sampling_params, seed, "
    "batch_size, candidates_created, ranking_tasks_created) SELECT j.id, g.prompt_filter, g.prompt_ids, g.k, "
    "g.sampling_params, g.seed, g.batch_size, g.candidates_created, g.ranking_tasks_created "
    "FROM trainer_bridge_legacygenerationjob g JOIN trainer_bridge_job j ON j.type = 'generation' AND j.legacy_id = g.id",
    # training
    _job_insert(
        "SELECT 'training', t.project_id, t.base_model_id, t.output_model_id, "
        + _ACTIVE.format(s="t.status")
        + ", t.cancel_requested, t.progress_done, t.progress_total, t.latest_metrics, t.log || "
        + _LOG.format(what="training job", id="t.id")
        + ", t.error, t.attempts, '', CASE WHEN t.status IN ('queued', 'running') THEN NULL ELSE t.heartbeat_at END, "
        "t.created_by_id, t.created_at, t.started_at, t.finished_at, t.id "
        "FROM trainer_bridge_legacytrainingjob t ORDER BY t.id"
    ),
    "INSERT INTO trainer_bridge_trainingjob (job_ptr_id, kind, snapshot_id, config, data_options, output_name, "
    "output_dir) SELECT j.id, t.kind, t.snapshot_id, t.config, t.data_options, t.output_name, t.output_dir "
    "FROM trainer_bridge_legacytrainingjob t JOIN trainer_bridge_job j ON j.type = 'training' AND j.legacy_id = t.id",
    'INSERT INTO trainer_bridge_jobmetric (job_id, step, "values", created_at) SELECT j.id, m.step, m."values", '
    "m.created_at FROM trainer_bridge_trainingmetric m "
    "JOIN trainer_bridge_job j ON j.type = 'training' AND j.legacy_id = m.job_id",
    "UPDATE trainer_bridge_retrainrun r SET training_job_new_id = j.id FROM trainer_bridge_job j "
    "WHERE j.type = 'training' AND j.legacy_id = r.training_job_id",
    # refusal probe runs
    _job_insert(
        "SELECT 'probe', ps.project_id, "
        + _real_model("r.model_version_id")
        + ", NULL, "
        + _ACTIVE.format(s="r.status")
        + ", false, r.progress_done, r.progress_total, '{}'::jsonb, "
        + _LOG.format(what="probe run", id="r.id")
        + ", r.error, 0, '', NULL, r.created_by_id, r.created_at, NULL, r.finished_at, r.id "
        "FROM curation_proberun r JOIN curation_probeset ps ON ps.id = r.probe_set_id ORDER BY r.id"
    ),
    "INSERT INTO trainer_bridge_proberun (job_ptr_id, model_name, samples, max_new_tokens, temperature, seed, "
    "probe_set_id, judge) SELECT j.id, r.model_name, r.samples, r.max_new_tokens, r.temperature, r.seed, "
    "r.probe_set_id, r.judge FROM curation_proberun r JOIN trainer_bridge_job j ON j.type = 'probe' AND j.legacy_id = r.id",
    "INSERT INTO trainer_bridge_probeanswer (run_id, question_id, sample_index, text, correct) "
    "SELECT j.id, a.question_id, a.sample_index, a.text, a.correct FROM curation_probeanswer a "
    "JOIN trainer_bridge_job j ON j.type = 'probe' AND j.legacy_id = a.run_id",
    "INSERT INTO trainer_bridge_probeoutcome (run_id, question_id, correct, total, verdict, task_id) "
    "SELECT j.id, o.question_id, o.correct, o.total, o.verdict, o.task_id FROM curation_probeoutcome o "
    "JOIN trainer_bridge_job j ON j.type = 'probe' AND j.legacy_id = o.run_id",
    # practice runs
    _job_insert(
        "SELECT 'practice', ps.project_id, "
        + _real_model("r.model_version_id")
        + ", NULL, "
        + _ACTIVE.format(s="r.status")
        + ", false, r.progress_done, r.progress_total, '{}'::jsonb, "
        + _LOG.format(what="practice run", id="r.id")
        + ", r.error, 0, '', NULL, r.created_by_id, r.created_at, NULL, r.finished_at, r.id "
        "FROM curation_practicerun r JOIN curation_practiceset ps ON ps.id = r.practice_set_id ORDER BY r.id"
    ),
    "INSERT INTO trainer_bridge_practicerun (job_ptr_id, model_name, samples, max_new_tokens, temperature, seed, "
    "practice_set_id) SELECT j.id, r.model_name, r.samples, r.max_new_tokens, r.temperature, r.seed, "
    "r.practice_set_id FROM curation_practicerun r JOIN trainer_bridge_job j ON j.type = 'practice' AND j.legacy_id = r.id",
    "INSERT INTO trainer_bridge_practicesolution (run_id, problem_id, sample_index, text, final_answer, correct) "
    "SELECT j.id, s.problem_id, s.sample_index, s.text, s.final_answer, s.correct FROM curation_practicesolution s "
    "JOIN trainer_bridge_job j ON j.type = 'practice' AND j.legacy_id = s.run_id",
    "INSERT INTO trainer_bridge_practiceresult (run_id, problem_id, passed, total, pass_rate) "
    "SELECT j.id, r.problem_id, r.passed, r.total, r.pass_rate FROM curation_practiceresult r "
    "JOIN trainer_bridge_job j ON j.type = 'practice' AND j.legacy_id = r.run_id",
    "ALTER TABLE trainer_bridge_job DROP COLUMN legacy_id",
]

# The curation tables that are copied keep their unique constraints until curation drops them; the new
# tables take those names.
FREE_NAMES = [
    f"ALTER TABLE curation_{table} RENAME CONSTRAINT {name} TO {name}_moved"
    for table, name in [
        ("probeanswer", "probe_answer_once"),
        ("probeoutcome", "probe_outcome_once"),
        ("practicesolution", "practice_solution_once"),
        ("practiceresult", "practice_result_once"),
    ]
]


def _repoint(model_name: str, name: str, field: models.Field) -> migrations.AlterField:
    return migrations.AlterField(model_name=model_name, name=name, field=field)


def _fk(related_name: str, *, null: bool = True, one: bool = False) -> models.Field:
    kind = models.OneToOneField if one else models.ForeignKey
    extra = {"blank": True, "null": True} if null else {}
    return kind(on_delete=django.db.models.deletion.PROTECT, related_name=related_name, to=MODEL, **extra)


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0005_snapshot_rows_lz4"),
        ("labeling", "0004_candidate_model_version"),
        ("registry", "0001_initial"),
        ("trainer_bridge", "0004_model_origin"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # 1. Keys to model versions point at registry's (the table itself was renamed by registry 0001).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                _repoint("generationjob", "model_version", _fk("generation_jobs", null=False)),
                _repoint("trainingjob", "base_model", _fk("training_jobs", null=False)),
                _repoint("trainingjob", "output_model", _fk("training_job", one=True)),
                _repoint("retrainpolicy", "base_model", _fk("retrain_policies", null=False)),
                migrations.AlterField(
                    model_name="modelorigin",
                    name="model",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="origin",
                        serialize=False,
                        to=MODEL,
                    ),
                ),
                migrations.DeleteModel(name="ModelVersion"),
            ]
        ),
        # 2. The old job tables step aside (their index names are reused below).
        migrations.RemoveIndex(model_name="exportjob", name="export_job_by_snapshot"),
        migrations.RemoveIndex(model_name="generationjob", name="generation_job_by_project"),
        migrations.RemoveIndex(model_name="generationjob", name="generation_job_running"),
        migrations.RemoveIndex(model_name="trainingjob", name="training_job_by_project"),
        migrations.RemoveIndex(model_name="trainingjob", name="training_job_running"),
        migrations.RenameModel("ExportJob", "LegacyExportJob"),
        migrations.RenameModel("GenerationJob", "LegacyGenerationJob"),
        migrations.RenameModel("TrainingJob", "LegacyTrainingJob"),
        migrations.RunSQL(FREE_NAMES, migrations.RunSQL.noop),
        # 3. The one job family.
        migrations.CreateModel(
            name="Job",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "type",
                    models.CharField(
                        choices=[
                            ("export", "Export"),
                            ("generation", "Generation"),
                            ("training", "Training"),
                            ("probe", "Probe"),
                            ("practice", "Practice"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("running", "Running"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="queued",
                        max_length=10,
                    ),
                ),
                ("cancel_requested", models.BooleanField(default=False)),
                ("progress_done", models.PositiveBigIntegerField(default=0)),
                ("progress_total", models.PositiveBigIntegerField(default=0)),
                ("latest_metrics", models.JSONField(blank=True, default=dict)),
                ("log", models.TextField(blank=True, default="")),
                ("error", models.TextField(blank=True, default="")),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("runner", models.CharField(blank=True, default="", max_length=64)),
                ("heartbeat_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "model_version",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="jobs",
                        to="registry.modelversion",
                    ),
                ),
                (
                    "output_model",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="made_by_job",
                        to="registry.modelversion",
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="jobs",
                        to="labeling.project",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ExportJob",
            fields=[
                (
                    "job_ptr",
                    models.OneToOneField(
                        auto_created=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        parent_link=True,
                        primary_key=True,
                        serialize=False,
                        to="trainer_bridge.job",
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("sft", "Sft"), ("rm", "Rm"), ("prompts", "Prompts")], max_length=10
                    ),
                ),
                ("options", models.JSONField(blank=True, default=dict)),
                ("rows_written", models.BigIntegerField(default=0)),
                ("file_path", models.CharField(blank=True, default="", max_length=1000)),
                ("file_bytes", models.BigIntegerField(default=0)),
                ("file_sha256", models.CharField(blank=True, default="", max_length=64)),
                (
                    "snapshot",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="export_jobs",
                        to="curation.datasetsnapshot",
                    ),
                ),
            ],
            bases=("trainer_bridge.job",),
        ),
        migrations.CreateModel(
            name="GenerationJob",
            fields=[
                (
                    "job_ptr",
                    models.OneToOneField(
                        auto_created=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        parent_link=True,
                        primary_key=True,
                        serialize=False,
                        to="trainer_bridge.job",
                    ),
                ),
                ("prompt_filter", models.JSONField(blank=True, default=dict)),
                (
                    "prompt_ids",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.BigIntegerField(), blank=True, default=list, size=None
                    ),
                ),
                ("k", models.PositiveSmallIntegerField()),
                ("sampling_params", models.JSONField(blank=True, default=dict)),
                ("seed", models.IntegerField(default=0)),
                ("batch_size", models.PositiveSmallIntegerField(default=8)),
                ("candidates_created", models.PositiveIntegerField(default=0)),
                ("ranking_tasks_created", models.PositiveIntegerField(default=0)),
            ],
            bases=("trainer_bridge.job",),
        ),
        migrations.CreateModel(
            name="TrainingJob",
            fields=[
                (
                    "job_ptr",
                    models.OneToOneField(
                        auto_created=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        parent_link=True,
                        primary_key=True,
                        serialize=False,
                        to="trainer_bridge.job",
                    ),
                ),
                ("kind", models.CharField(choices=[("sft", "Sft"), ("rm", "Rm")], max_length=10)),
                ("config", models.JSONField(blank=True, default=dict)),
                ("data_options", models.JSONField(blank=True, default=dict)),
                ("output_name", models.CharField(max_length=200)),
                ("output_dir", models.CharField(max_length=1000)),
                (
                    "snapshot",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="training_jobs",
                        to="curation.datasetsnapshot",
                    ),
                ),
            ],
            bases=("trainer_bridge.job",),
        ),
        migrations.CreateModel(
            name="JobMetric",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("step", models.PositiveIntegerField()),
                ("values", models.JSONField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "job",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="metric_points",
                        to="trainer_bridge.job",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ProbeRun",
            fields=[
                (
                    "job_ptr",
                    models.OneToOneField(
                        auto_created=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        parent_link=True,
                        primary_key=True,
                        serialize=False,
                        to="trainer_bridge.job",
                    ),
                ),
                ("model_name", models.CharField(max_length=200)),
                (
                    "samples",
                    models.PositiveSmallIntegerField(
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(64),
                        ]
                    ),
                ),
                ("max_new_tokens", models.PositiveIntegerField(default=128)),
                ("temperature", models.FloatField(default=1.0)),
                ("seed", models.BigIntegerField(default=0)),
                ("judge", models.CharField(default="containment", max_length=200)),
                (
                    "probe_set",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="runs",
                        to="curation.probeset",
                    ),
                ),
            ],
            options={
                "abstract": False,
            },
            bases=("trainer_bridge.job", models.Model),
        ),
        migrations.CreateModel(
            name="ProbeAnswer",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sample_index", models.PositiveSmallIntegerField()),
                ("text", models.TextField()),
                ("correct", models.BooleanField(null=True)),
                (
                    "question",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="curation.probequestion",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="answers",
                        to="trainer_bridge.proberun",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ProbeOutcome",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("correct", models.PositiveSmallIntegerField()),
                ("total", models.PositiveSmallIntegerField()),
                (
                    "verdict",
                    models.CharField(
                        choices=[("wrong", "Wrong"), ("right", "Right"), ("mixed", "Mixed")], max_length=10
                    ),
                ),
                (
                    "question",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="outcomes",
                        to="curation.probequestion",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="labeling.task",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="outcomes",
                        to="trainer_bridge.proberun",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="PracticeRun",
            fields=[
                (
                    "job_ptr",
                    models.OneToOneField(
                        auto_created=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        parent_link=True,
                        primary_key=True,
                        serialize=False,
                        to="trainer_bridge.job",
                    ),
                ),
                ("model_name", models.CharField(max_length=200)),
                (
                    "samples",
                    models.PositiveSmallIntegerField(
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(64),
                        ]
                    ),
                ),
                ("max_new_tokens", models.PositiveIntegerField(default=128)),
                ("temperature", models.FloatField(default=1.0)),
                ("seed", models.BigIntegerField(default=0)),
                (
                    "practice_set",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="runs",
                        to="curation.practiceset",
                    ),
                ),
            ],
            options={
                "abstract": False,
            },
            bases=("trainer_bridge.job", models.Model),
        ),
        migrations.CreateModel(
            name="PracticeSolution",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sample_index", models.PositiveSmallIntegerField()),
                ("text", models.TextField()),
                ("final_answer", models.TextField(blank=True, default="")),
                ("correct", models.BooleanField(null=True)),
                (
                    "problem",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="curation.practiceproblem",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="solutions",
                        to="trainer_bridge.practicerun",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="PracticeResult",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("passed", models.PositiveSmallIntegerField()),
                ("total", models.PositiveSmallIntegerField()),
                ("pass_rate", models.FloatField()),
                (
                    "problem",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="results",
                        to="curation.practiceproblem",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="results",
                        to="trainer_bridge.practicerun",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["project", "type", "-created_at"], name="job_by_project"),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(("status", "running")), fields=["heartbeat_at"], name="job_running"
            ),
        ),
        migrations.AddIndex(
            model_name="exportjob",
            index=models.Index(fields=["snapshot", "kind"], name="export_job_by_snapshot"),
        ),
        migrations.AddConstraint(
            model_name="jobmetric",
            constraint=models.UniqueConstraint(fields=("job", "step"), name="job_metric_per_step"),
        ),
        migrations.AddConstraint(
            model_name="probeanswer",
            constraint=models.UniqueConstraint(
                fields=("run", "question", "sample_index"), name="probe_answer_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="probeoutcome",
            constraint=models.UniqueConstraint(fields=("run", "question"), name="probe_outcome_once"),
        ),
        migrations.AddConstraint(
            model_name="practicesolution",
            constraint=models.UniqueConstraint(
                fields=("run", "problem", "sample_index"), name="practice_solution_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="practiceresult",
            constraint=models.UniqueConstraint(fields=("run", "problem"), name="practice_result_once"),
        ),
        # 4. Copy every job, its details and what it produced; retrain runs follow their training jobs.
        migrations.AddField(
            model_name="retrainrun",
            name="training_job_new",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="trainer_bridge.trainingjob",
            ),
        ),
        migrations.RunSQL(COPY),
        migrations.RemoveField(model_name="retrainrun", name="training_job"),
        migrations.RenameField(model_name="retrainrun", old_name="training_job_new", new_name="training_job"),
        migrations.AlterField(
            model_name="retrainrun",
            name="training_job",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="retrain_run",
                to="trainer_bridge.trainingjob",
            ),
        ),
        migrations.DeleteModel(name="TrainingMetric"),
        migrations.DeleteModel(name="LegacyExportJob"),
        migrations.DeleteModel(name="LegacyGenerationJob"),
        migrations.DeleteModel(name="LegacyTrainingJob"),
    ]
