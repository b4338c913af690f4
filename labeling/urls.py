from django.urls import path

from labeling import views

app_name = "labeling"
urlpatterns = [
    path("", views.home, name="home"),
    # Labelers
    path("projects/<int:project_id>/next/", views.next_task, name="next"),
    path("assignments/<int:assignment_id>/", views.assignment_page, name="assignment"),
    path("assignments/<int:assignment_id>/rank/", views.rank_submit, name="rank"),
    path("assignments/<int:assignment_id>/write/", views.write_submit, name="write"),
    path("assignments/<int:assignment_id>/draft/", views.draft_save, name="draft"),
    path("assignments/<int:assignment_id>/search/", views.search_run, name="search"),
    path("assignments/<int:assignment_id>/preview/", views.preview, name="preview"),
    path("assignments/<int:assignment_id>/skip/", views.skip, name="skip"),
    path("assignments/<int:assignment_id>/release/", views.release, name="release"),
    path("assignments/<int:assignment_id>/renew/", views.renew, name="renew"),
    # Reviewers
    path("projects/<int:project_id>/review/", views.review_queue, name="review-queue"),
    path("review/tasks/<int:task_id>/", views.task_review, name="task-review"),
    path("review/assignments/<int:assignment_id>/", views.review_submit, name="review"),
    # Admins
    path("projects/new/", views.project_new, name="project-new"),
    path("projects/<int:project_id>/settings/", views.project_settings, name="project-settings"),
    path("projects/<int:project_id>/members/", views.member_set, name="member-set"),
    path(
        "projects/<int:project_id>/members/<int:user_id>/remove/", views.member_remove, name="member-remove"
    ),
    path("projects/<int:project_id>/import/", views.import_upload, name="import"),
    path("projects/<int:project_id>/corpus/", views.corpus, name="corpus"),
    path(
        "projects/<int:project_id>/corpus/<int:corpus_id>/delete/", views.corpus_delete, name="corpus-delete"
    ),
    path("projects/<int:project_id>/dashboard/", views.dashboard, name="dashboard"),
]
