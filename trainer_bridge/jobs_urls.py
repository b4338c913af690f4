from django.urls import path

from trainer_bridge import jobs_api, jobs_views

app_name = "jobs"
urlpatterns = [
    # pages
    path("projects/<int:project_id>/models/", jobs_views.models_page, name="models"),
    path("projects/<int:project_id>/models/<int:model_id>/", jobs_views.model_detail, name="model"),
    path(
        "projects/<int:project_id>/models/<int:model_id>/labels/",
        jobs_views.model_labels,
        name="model-labels",
    ),
    path("projects/<int:project_id>/jobs/", jobs_views.jobs_page, name="jobs"),
    path("projects/<int:project_id>/jobs/generation/", jobs_views.generation_start, name="generation-start"),
    path("projects/<int:project_id>/jobs/training/", jobs_views.training_start, name="training-start"),
    path("jobs/<str:kind>/<int:job_id>/", jobs_views.job_detail, name="job"),
    path("jobs/<str:kind>/<int:job_id>/live/", jobs_views.job_live, name="job-live"),
    path("jobs/<str:kind>/<int:job_id>/cancel/", jobs_views.job_cancel_view, name="job-cancel"),
    path("projects/<int:project_id>/retrain/", jobs_views.retrain_page, name="retrain"),
    path("projects/<int:project_id>/retrain/new/", jobs_views.retrain_create, name="retrain-create"),
    path("retrain/<int:policy_id>/", jobs_views.retrain_action, name="retrain-action"),
    # API
    path("api/projects/<int:project_id>/models/", jobs_api.ModelList.as_view(), name="api-models"),
    path("api/models/<int:model_id>/", jobs_api.ModelDetail.as_view(), name="api-model"),
    path(
        "api/projects/<int:project_id>/generation-jobs/",
        jobs_api.GenerationJobList.as_view(),
        name="api-generation-jobs",
    ),
    path(
        "api/generation-jobs/<int:job_id>/",
        jobs_api.JobDetail.as_view(kind="generation"),
        name="api-generation-job",
    ),
    path(
        "api/generation-jobs/<int:job_id>/cancel/",
        jobs_api.JobCancel.as_view(kind="generation"),
        name="api-generation-job-cancel",
    ),
    path(
        "api/projects/<int:project_id>/training-jobs/",
        jobs_api.TrainingJobList.as_view(),
        name="api-training-jobs",
    ),
    path(
        "api/training-jobs/<int:job_id>/",
        jobs_api.JobDetail.as_view(kind="training"),
        name="api-training-job",
    ),
    path(
        "api/training-jobs/<int:job_id>/cancel/",
        jobs_api.JobCancel.as_view(kind="training"),
        name="api-training-job-cancel",
    ),
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
]
