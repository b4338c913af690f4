from django.urls import path

from labeling.views import chat, corpora, dashboard, guidelines, home, imports, projects, review, work

# The guideline pages have a namespace of their own ("guidelines:page", ...); config.urls includes them.
guideline_patterns = (
    [
        path("projects/<int:project_id>/guideline/", guidelines.guideline_page, name="page"),
        path("projects/<int:project_id>/guideline/v<int:number>/", guidelines.guideline_page, name="version"),
        path("projects/<int:project_id>/guideline/diff/", guidelines.guideline_diff_pick, name="diff-pick"),
        path(
            "projects/<int:project_id>/guideline/diff/<int:old>/<int:new>/",
            guidelines.guideline_diff,
            name="diff",
        ),
        path("projects/<int:project_id>/guideline/edit/", guidelines.guideline_edit, name="edit"),
        path("projects/<int:project_id>/guideline/preview/", guidelines.guideline_preview, name="preview"),
        path(
            "projects/<int:project_id>/guideline/acknowledge/",
            guidelines.guideline_acknowledge_view,
            name="acknowledge",
        ),
    ],
    "guidelines",
)

app_name = "labeling"
urlpatterns = [
    path("", home.home, name="home"),
    # Labelers
    path("projects/<int:project_id>/next/", work.next_task, name="next"),
    path("assignments/<int:assignment_id>/", work.assignment_page, name="assignment"),
    path("assignments/<int:assignment_id>/rank/", work.rank_submit, name="rank"),
    path("assignments/<int:assignment_id>/rank/draft/", work.rank_draft_save, name="rank-draft"),
    path("assignments/<int:assignment_id>/rank/change/", work.rank_change, name="rank-change"),
    path("assignments/<int:assignment_id>/evaluate/", work.evaluate_submit, name="evaluate"),
    path("assignments/<int:assignment_id>/evaluate/draft/", work.evaluate_draft_save, name="evaluate-draft"),
    path("assignments/<int:assignment_id>/write/", work.write_submit, name="write"),
    path("assignments/<int:assignment_id>/draft/", work.draft_save, name="draft"),
    path("assignments/<int:assignment_id>/search/", work.search_run, name="search"),
    path(
        "assignments/<int:assignment_id>/documents/<int:document_id>/",
        work.search_document,
        name="search-document",
    ),
    path("assignments/<int:assignment_id>/chat/draft/", chat.chat_draft_save, name="chat-draft"),
    path("assignments/<int:assignment_id>/chat/submit/", chat.chat_submit, name="chat-submit"),
    path("assignments/<int:assignment_id>/chat/search/", chat.chat_search, name="chat-search"),
    path("assignments/<int:assignment_id>/chat/turns/<int:turn_id>/rank/", chat.chat_rank, name="chat-rank"),
    path(
        "assignments/<int:assignment_id>/chat/turns/<int:turn_id>/draft/",
        chat.chat_rank_draft,
        name="chat-rank-draft",
    ),
    # Calls to the model: their own path, served by threaded workers (docs/operations.md).
    path("stream/chat/<int:assignment_id>/reply/", chat.chat_reply, name="chat-reply"),
    path("stream/chat/<int:assignment_id>/alternatives/", chat.chat_alternatives, name="chat-alternatives"),
    path("assignments/<int:assignment_id>/preview/", work.preview, name="preview"),
    path("assignments/<int:assignment_id>/skip/", work.skip, name="skip"),
    path("assignments/<int:assignment_id>/release/", work.release, name="release"),
    path("assignments/<int:assignment_id>/renew/", work.renew, name="renew"),
    # Reviewers
    path("projects/<int:project_id>/review/", review.review_queue, name="review-queue"),
    path("projects/<int:project_id>/review/next/", review.review_next, name="review-next"),
    path("review/tasks/<int:task_id>/", review.task_review, name="task-review"),
    path("review/tasks/<int:task_id>/accept-next/", review.review_accept_next, name="review-accept-next"),
    path("review/assignments/<int:assignment_id>/", review.review_submit, name="review"),
    # Admins
    path("projects/new/", projects.project_new, name="project-new"),
    path("projects/<int:project_id>/settings/", projects.project_settings, name="project-settings"),
    path("projects/<int:project_id>/members/", projects.member_set, name="member-set"),
    path("projects/<int:project_id>/chat-settings/", projects.chat_settings, name="chat-settings"),
    path(
        "projects/<int:project_id>/members/<int:user_id>/remove/",
        projects.member_remove,
        name="member-remove",
    ),
    path("projects/<int:project_id>/import/", imports.import_upload, name="import"),
    path("projects/<int:project_id>/corpus/", corpora.corpus, name="corpus"),
    path(
        "projects/<int:project_id>/corpus/<int:corpus_id>/delete/",
        corpora.corpus_delete,
        name="corpus-delete",
    ),
    path("projects/<int:project_id>/dashboard/", dashboard.dashboard, name="dashboard"),
]
