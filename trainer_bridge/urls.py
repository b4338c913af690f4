from django.urls import path

from trainer_bridge import views

app_name = "trainer_bridge"
urlpatterns = [
    path("projects/<int:project_id>/exports/", views.exports_page, name="exports"),
    path("projects/<int:project_id>/snapshots/", views.snapshot_create, name="snapshot-create"),
    path("snapshots/<int:snapshot_id>/exports/", views.export_start, name="export-start"),
    path("exports/<int:job_id>/status.json", views.export_status, name="export-status"),
    path("exports/<int:job_id>/download", views.export_download, name="export-download"),
]
