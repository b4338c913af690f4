from django.urls import path

from curation import quality_views as views

app_name = "quality"
urlpatterns = [
    path("projects/<int:project_id>/quality/agreement/", views.agreement, name="agreement"),
    path("projects/<int:project_id>/quality/labelers/", views.labelers, name="labelers"),
    path("projects/<int:project_id>/quality/probes/", views.probes, name="probes"),
    path("projects/<int:project_id>/quality/probes/<int:set_id>/", views.probe_set, name="probe-set"),
    path("projects/<int:project_id>/quality/practice/", views.practice_sets, name="practice-sets"),
    path("projects/<int:project_id>/quality/practice/<int:set_id>/", views.practice_set, name="practice-set"),
]
