from django.urls import path

from trainer_bridge.api import active as active_api
from trainer_bridge.api import drafts as drafts_api
from trainer_bridge.api import evaluation as evaluation_api
from trainer_bridge.api import jobs as jobs_api
from trainer_bridge.api import servers as servers_api
from trainer_bridge.views import active, drafts, evaluation, exports, jobs, models, retrain, servers, sets

app_name = "trainer_bridge"
urlpatterns = [
    path("projects/<int:project_id>/exports/", exports.exports_page, name="exports"),
    path("projects/<int:project_id>/snapshots/", exports.snapshot_create, name="snapshot-create"),
    path("snapshots/<int:snapshot_id>/exports/", exports.export_start, name="export-start"),
    path("exports/<int:job_id>/status.json", exports.export_status, name="export-status"),
    path("exports/<int:job_id>/download", exports.export_download, name="export-download"),
]

# Models, jobs, retrain policies and the probe and practice sets, pages and API: the "jobs" namespace.
job_patterns = (
    [
        # pages
        path("projects/<int:project_id>/models/", models.models_page, name="models"),
        path("projects/<int:project_id>/models/<int:model_id>/", models.model_detail, name="model"),
        path(
            "projects/<int:project_id>/models/<int:model_id>/labels/",
            models.model_labels,
            name="model-labels",
        ),
        path("projects/<int:project_id>/jobs/", jobs.jobs_page, name="jobs"),
        path("projects/<int:project_id>/jobs/generation/", jobs.generation_start, name="generation-start"),
        path("projects/<int:project_id>/jobs/training/", jobs.training_start, name="training-start"),
        path("projects/<int:project_id>/jobs/best-of-n/", jobs.best_of_n_start_view, name="best-of-n-start"),
        path("jobs/<str:kind>/<int:job_id>/", jobs.job_detail, name="job"),
        path("jobs/<str:kind>/<int:job_id>/live/", jobs.job_live, name="job-live"),
        path("jobs/<str:kind>/<int:job_id>/cancel/", jobs.job_cancel_view, name="job-cancel"),
        path("jobs/<str:kind>/<int:job_id>/retry/", jobs.job_retry_view, name="job-retry"),
        path("projects/<int:project_id>/retrain/", retrain.retrain_page, name="retrain"),
        path("projects/<int:project_id>/quality/probes/", sets.probe_sets, name="probes"),
        path("projects/<int:project_id>/quality/probes/<int:set_id>/", sets.probe_set, name="probe-set"),
        path("projects/<int:project_id>/quality/practice/", sets.practice_sets, name="practice-sets"),
        path(
            "projects/<int:project_id>/quality/practice/<int:set_id>/", sets.practice_set, name="practice-set"
        ),
        path(
            "projects/<int:project_id>/quality/practice/<int:set_id>/exports/",
            sets.practice_export_start,
            name="practice-export",
        ),
        path(
            "projects/<int:project_id>/quality/practice/<int:set_id>/grpo/",
            sets.grpo_start,
            name="grpo-start",
        ),
        path("projects/<int:project_id>/retrain/new/", retrain.retrain_create, name="retrain-create"),
        path("projects/<int:project_id>/evaluation/", evaluation.leaderboard_page, name="evaluation"),
        path(
            "projects/<int:project_id>/evaluation/start/",
            evaluation.evaluation_start_view,
            name="evaluation-start",
        ),
        path(
            "projects/<int:project_id>/evaluation/score/", evaluation.scoring_start_view, name="scoring-start"
        ),
        path(
            "projects/<int:project_id>/evaluation/votes.jsonl",
            evaluation.votes_download,
            name="evaluation-votes",
        ),
        path(
            "projects/<int:project_id>/evaluation/dpo-pairs.jsonl",
            evaluation.pairs_download,
            name="evaluation-pairs",
        ),
        path("retrain/<int:policy_id>/", retrain.retrain_action, name="retrain-action"),
        # --- model drafts ---
        path("projects/<int:project_id>/quality/drafts/", drafts.model_drafts, name="model-drafts"),
        path("projects/<int:project_id>/quality/drafts/start/", drafts.drafting_start, name="drafting-start"),
        path(
            "api/projects/<int:project_id>/reply-draft-settings/",
            drafts_api.ReplyDraftSettingsDetail.as_view(),
            name="api-reply-draft-settings",
        ),
        path(
            "api/projects/<int:project_id>/drafting-jobs/",
            drafts_api.DraftingJobList.as_view(),
            name="api-drafting-jobs",
        ),
        # --- active task selection ---
        path("projects/<int:project_id>/quality/active/", active.active_selection, name="active-selection"),
        path(
            "projects/<int:project_id>/quality/active/score/",
            active.queue_scoring_start,
            name="queue-scoring-start",
        ),
        path(
            "api/projects/<int:project_id>/active-selection/",
            active_api.ActiveSelectionDetail.as_view(),
            name="api-active-selection",
        ),
        path(
            "api/projects/<int:project_id>/queue-scoring-jobs/",
            active_api.QueueScoringJobList.as_view(),
            name="api-queue-scoring-jobs",
        ),
        # API
        # --- model servers ---
        path("projects/<int:project_id>/servers/", servers.server_start, name="server-start"),
        path("projects/<int:project_id>/servers/register/", servers.server_register, name="server-register"),
        path(
            "projects/<int:project_id>/servers/<int:server_id>/", servers.server_action, name="server-action"
        ),
        path(
            "api/projects/<int:project_id>/model-servers/",
            servers_api.ServerList.as_view(),
            name="api-model-servers",
        ),
        path(
            "api/projects/<int:project_id>/model-servers/register/",
            servers_api.ServerRegister.as_view(),
            name="api-model-server-register",
        ),
        path(
            "api/model-servers/<int:server_id>/", servers_api.ServerDetail.as_view(), name="api-model-server"
        ),
        path(
            "api/model-servers/<int:server_id>/check/",
            servers_api.ServerCheck.as_view(),
            name="api-model-server-check",
        ),
        path(
            "api/model-servers/<int:server_id>/stop/",
            servers_api.ServerStop.as_view(),
            name="api-model-server-stop",
        ),
        # ---
        path("api/projects/<int:project_id>/models/", jobs_api.ModelList.as_view(), name="api-models"),
        path("api/models/<int:model_id>/", jobs_api.ModelDetail.as_view(), name="api-model"),
        path("api/models/<int:model_id>/merge/", jobs_api.AdapterMerge.as_view(), name="api-model-merge"),
        path(
            "api/models/<int:model_id>/chat-template/",
            jobs_api.ModelChatTemplate.as_view(),
            name="api-model-chat-template",
        ),
        path(
            "api/projects/<int:project_id>/generation-jobs/",
            jobs_api.GenerationJobList.as_view(),
            name="api-generation-jobs",
        ),
        path(
            "api/generation-jobs/<int:job_id>/",
            jobs_api.JobDetail.as_view(type="generation"),
            name="api-generation-job",
        ),
        path(
            "api/generation-jobs/<int:job_id>/cancel/",
            jobs_api.JobCancel.as_view(type="generation"),
            name="api-generation-job-cancel",
        ),
        path(
            "api/projects/<int:project_id>/training-jobs/",
            jobs_api.TrainingJobList.as_view(),
            name="api-training-jobs",
        ),
        path(
            "api/training-jobs/<int:job_id>/",
            jobs_api.JobDetail.as_view(type="training"),
            name="api-training-job",
        ),
        path(
            "api/training-jobs/<int:job_id>/cancel/",
            jobs_api.JobCancel.as_view(type="training"),
            name="api-training-job-cancel",
        ),
        path(
            "api/projects/<int:project_id>/best-of-n-jobs/",
            jobs_api.BestOfNJobList.as_view(),
            name="api-best-of-n-jobs",
        ),
        path(
            "api/projects/<int:project_id>/grpo-jobs/", jobs_api.GRPOJobList.as_view(), name="api-grpo-jobs"
        ),
        path("api/projects/<int:project_id>/jobs/", jobs_api.JobList.as_view(), name="api-jobs"),
        path(
            "api/projects/<int:project_id>/leaderboard/",
            evaluation_api.Leaderboard.as_view(),
            name="api-leaderboard",
        ),
        path(
            "api/projects/<int:project_id>/evaluations/",
            evaluation_api.EvaluationStart.as_view(),
            name="api-evaluation-start",
        ),
        path(
            "api/projects/<int:project_id>/scoring-jobs/",
            evaluation_api.ScoringJobStart.as_view(),
            name="api-scoring-jobs",
        ),
        path(
            "api/projects/<int:project_id>/evaluation/votes/",
            evaluation_api.EvaluationVotes.as_view(),
            name="api-evaluation-votes",
        ),
        path(
            "api/projects/<int:project_id>/evaluation/dpo-pairs/",
            evaluation_api.EvaluationPairs.as_view(),
            name="api-evaluation-pairs",
        ),
        path("api/jobs/<int:job_id>/", jobs_api.JobDetail.as_view(), name="api-job"),
        path("api/jobs/<int:job_id>/cancel/", jobs_api.JobCancel.as_view(), name="api-job-cancel"),
        path("api/jobs/<int:job_id>/retry/", jobs_api.JobRetry.as_view(), name="api-job-retry"),
        path(
            "api/projects/<int:project_id>/retrain-policies/",
            jobs_api.RetrainPolicyList.as_view(),
            name="api-retrain-policies",
        ),
        path(
            "api/retrain-policies/<int:policy_id>/",
            jobs_api.RetrainPolicyDetail.as_view(),
            name="api-retrain-policy",
        ),
        path(
            "api/retrain-policies/<int:policy_id>/check/",
            jobs_api.RetrainPolicyCheck.as_view(),
            name="api-retrain-policy-check",
        ),
    ],
    "jobs",
)
