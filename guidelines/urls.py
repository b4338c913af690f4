from django.urls import path

from guidelines import views

app_name = "guidelines"
urlpatterns = [
    path("projects/<int:project_id>/guideline/", views.guideline_page, name="page"),
    path("projects/<int:project_id>/guideline/v<int:number>/", views.guideline_page, name="version"),
    path("projects/<int:project_id>/guideline/diff/<int:old>/<int:new>/", views.guideline_diff, name="diff"),
    path("projects/<int:project_id>/guideline/edit/", views.guideline_edit, name="edit"),
    path("projects/<int:project_id>/guideline/preview/", views.guideline_preview, name="preview"),
    path(
        "projects/<int:project_id>/guideline/acknowledge/",
        views.guideline_acknowledge_view,
        name="acknowledge",
    ),
]
