from django.urls import path

from labeling import api

urlpatterns = [
    path("projects/", api.ProjectList.as_view(), name="api-projects"),
    path("projects/<int:project_id>/", api.ProjectDetail.as_view(), name="api-project"),
    path("projects/<int:project_id>/members/", api.MemberList.as_view(), name="api-members"),
    path(
        "projects/<int:project_id>/chat-settings/", api.ChatSettingsDetail.as_view(), name="api-chat-settings"
    ),
    path("projects/<int:project_id>/guideline/", api.GuidelineDetail.as_view(), name="api-guideline"),
    path(
        "projects/<int:project_id>/guideline/versions/",
        api.GuidelinePublish.as_view(),
        name="api-guideline-publish",
    ),
    path(
        "projects/<int:project_id>/guideline/acknowledge/",
        api.GuidelineAcknowledge.as_view(),
        name="api-guideline-acknowledge",
    ),
    path("projects/<int:project_id>/import/prompts/", api.PromptImport.as_view(), name="api-import-prompts"),
    path(
        "projects/<int:project_id>/import/candidates/",
        api.CandidateImport.as_view(),
        name="api-import-candidates",
    ),
    path("projects/<int:project_id>/next/", api.NextTask.as_view(), name="api-next"),
    path("projects/<int:project_id>/annotations/", api.AnnotationList.as_view(), name="api-annotations"),
    path("assignments/<int:assignment_id>/", api.AssignmentDetail.as_view(), name="api-assignment"),
    path("assignments/<int:assignment_id>/submit/", api.Submit.as_view(), name="api-submit"),
    path("assignments/<int:assignment_id>/chat/", api.ChatConversation.as_view(), name="api-chat"),
    path("assignments/<int:assignment_id>/chat/reply/", api.ChatReply.as_view(), name="api-chat-reply"),
    path("assignments/<int:assignment_id>/chat/search/", api.ChatSearch.as_view(), name="api-chat-search"),
    path(
        "assignments/<int:assignment_id>/chat/alternatives/",
        api.ChatAlternatives.as_view(),
        name="api-chat-alternatives",
    ),
    path(
        "assignments/<int:assignment_id>/chat/turns/<int:turn_id>/ranking/",
        api.ChatTurnRanking.as_view(),
        name="api-chat-ranking",
    ),
    path("assignments/<int:assignment_id>/search/", api.Search.as_view(), name="api-search"),
    path(
        "assignments/<int:assignment_id>/documents/<int:document_id>/",
        api.SearchDocumentDetail.as_view(),
        name="api-search-document",
    ),
    path("assignments/<int:assignment_id>/skip/", api.Skip.as_view(), name="api-skip"),
    path("assignments/<int:assignment_id>/release/", api.Release.as_view(), name="api-release"),
    path("assignments/<int:assignment_id>/renew/", api.Renew.as_view(), name="api-renew"),
    path("assignments/<int:assignment_id>/reviews/", api.ReviewCreate.as_view(), name="api-review"),
]
