from django.urls import path

from curation.cleaning import views
from curation.quality import views as quality

app_name = "curation"
urlpatterns = [
    path("projects/<int:project_id>/curation/", views.overview, name="overview"),
    path("projects/<int:project_id>/curation/settings", views.settings_update, name="settings"),
    path("projects/<int:project_id>/curation/run", views.run, name="run"),
    path("projects/<int:project_id>/curation/duplicates/", views.duplicates, name="duplicates"),
    path(
        "projects/<int:project_id>/curation/duplicates/<int:cluster_id>/keep",
        views.cluster_keep,
        name="cluster-keep",
    ),
    path("projects/<int:project_id>/curation/flags/", views.flags, name="flags"),
    path("projects/<int:project_id>/curation/eval-sets/", views.eval_sets, name="eval-sets"),
    path(
        "projects/<int:project_id>/curation/eval-sets/<int:eval_set_id>/delete",
        views.eval_set_delete,
        name="eval-set-delete",
    ),
]

# Agreement and labeler scores: the "quality" namespace (config.urls includes it).
quality_patterns = (
    [
        path("projects/<int:project_id>/quality/agreement/", quality.agreement, name="agreement"),
        path("projects/<int:project_id>/quality/labelers/", quality.labelers, name="labelers"),
    ],
    "quality",
)
