from django.urls import path

from trainer_bridge.api import exports as api

urlpatterns = [
    path("projects/<int:project_id>/snapshots/", api.SnapshotList.as_view(), name="api-snapshots"),
    path("snapshots/<int:snapshot_id>/", api.SnapshotDetail.as_view(), name="api-snapshot"),
    path("snapshots/<int:snapshot_id>/exports/", api.ExportStart.as_view(), name="api-export-start"),
    path(
        "practice-sets/<int:set_id>/exports/",
        api.PracticeExportStart.as_view(),
        name="api-practice-export-start",
    ),
    path("exports/<int:job_id>/", api.ExportStatus.as_view(), name="api-export"),
    path("exports/<int:job_id>/download/", api.ExportDownload.as_view(), name="api-export-download"),
]
