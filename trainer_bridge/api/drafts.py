"""REST API for model drafts: a project's settings (reviewers read, admins change) and its drafting jobs
(reviewers list, admins start)."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.types import ApiRequest
from labeling.access import project_for
from labeling.models import ReplyDraftSettings, Role
from labeling.selectors.model_drafts import drafted_open_tasks, reply_draft_settings_get
from labeling.services.model_drafts import MAX_DRAFT_TOKENS, reply_draft_settings_set
from trainer_bridge.jobs.lifecycle import JOB_ROLE, VIEW_ROLE
from trainer_bridge.models import DraftingJob
from trainer_bridge.selectors import job_payload, model_get
from trainer_bridge.services.drafting import drafting_job_start

INT_MAX, SMALLINT_MAX = 2**31 - 1, 2**15 - 1


class DraftSettingsSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    model_version = serializers.IntegerField(allow_null=True, max_value=INT_MAX, required=False, default=None)
    max_new_tokens = serializers.IntegerField(min_value=1, max_value=MAX_DRAFT_TOKENS, default=512)
    temperature = serializers.FloatField(min_value=0, max_value=2, default=0.7)


class DraftingJobSerializer(serializers.Serializer):
    prompt_ids = serializers.ListField(
        child=serializers.IntegerField(max_value=2**63 - 1),
        required=False,
        max_length=100_000,
        help_text="only these prompts (default: every open writing task's prompt without a draft)",
    )
    seed = serializers.IntegerField(default=0, min_value=-INT_MAX, max_value=INT_MAX)
    batch_size = serializers.IntegerField(default=8, min_value=1, max_value=512)


def _settings_body(settings: ReplyDraftSettings) -> dict[str, Any]:
    drafted = (
        drafted_open_tasks(project=settings.project, model_version_id=settings.model_version_id)
        if settings.model_version_id
        else None
    )
    return {
        "enabled": settings.enabled,
        "model_version": settings.model_version_id,
        "max_new_tokens": settings.max_new_tokens,
        "temperature": settings.temperature,
        "open_tasks_drafted": drafted[0] if drafted else 0,
        "open_writing_tasks": drafted[1] if drafted else None,
    }


class ReplyDraftSettingsDetail(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project, _ = project_for(request.user, project_id, Role.REVIEWER)
        return Response(_settings_body(reply_draft_settings_get(project=project)))

    @extend_schema(request=DraftSettingsSerializer, responses={200: None})
    def put(self, request: ApiRequest, project_id: int) -> Response:
        project, _ = project_for(request.user, project_id, Role.ADMIN)
        serializer = DraftSettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        model_id = data.pop("model_version")
        model = model_get(model_id=model_id, user=request.user, project=project) if model_id else None
        settings = reply_draft_settings_set(project=project, user=request.user, model_version=model, **data)
        return Response(_settings_body(settings))


class DraftingJobList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project, _ = project_for(request.user, project_id, VIEW_ROLE)
        jobs = DraftingJob.objects.filter(project=project).select_related("created_by").order_by("-id")[:100]
        return Response([job_payload(job, log_tail=5) for job in jobs])

    @extend_schema(request=DraftingJobSerializer, responses={202: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        project, _ = project_for(request.user, project_id, JOB_ROLE)
        serializer = DraftingJobSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = drafting_job_start(project=project, user=request.user, **serializer.validated_data)
        return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)
