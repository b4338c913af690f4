"""REST API for active task selection: the ranking queue's order and reward model (reviewers read, admins
change), and the scoring jobs that write each open ranking task's uncertainty (reviewers list, admins
start)."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.types import ApiRequest
from labeling.access import project_for
from labeling.models import Project, QueueOrder, Role
from labeling.selectors.active import queue_scoring
from labeling.services.active import active_selection_set
from trainer_bridge.jobs.lifecycle import JOB_ROLE, VIEW_ROLE
from trainer_bridge.models import JobType, ScoringJob
from trainer_bridge.selectors import job_payload, model_get
from trainer_bridge.services.scoring import queue_scoring_job_start

INT_MAX = 2**31 - 1


class ActiveSelectionSerializer(serializers.Serializer):
    queue_order = serializers.ChoiceField(choices=QueueOrder.choices)
    reward_model = serializers.IntegerField(allow_null=True, max_value=INT_MAX, required=False, default=None)
    score_now = serializers.BooleanField(
        default=True, help_text="queue a scoring job when the queue follows a reward model whose scores lack"
    )


class QueueScoringJobSerializer(serializers.Serializer):
    reward_model = serializers.IntegerField(
        max_value=INT_MAX, required=False, help_text="default: the queue's reward model"
    )
    batch_size = serializers.IntegerField(default=64, min_value=1, max_value=512)


def _body(project: Project) -> dict[str, Any]:
    scoring = queue_scoring(project=project)
    return {
        "queue_order": project.queue_order,
        "reward_model": project.queue_reward_model_id,
        "open_ranking_tasks": scoring.open_tasks,
        "scored": scoring.scored,
        "scored_by_reward_model": scoring.scored_by_current,
        "most_uncertain": [{"task": t.pk, "uncertainty": t.uncertainty} for t in scoring.most_uncertain],
    }


class ActiveSelectionDetail(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project, _ = project_for(request.user, project_id, Role.REVIEWER)
        return Response(_body(project))

    @extend_schema(request=ActiveSelectionSerializer, responses={200: None})
    def put(self, request: ApiRequest, project_id: int) -> Response:
        project, _ = project_for(request.user, project_id, Role.ADMIN)
        serializer = ActiveSelectionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        model_id = data["reward_model"]
        model = model_get(model_id=model_id, user=request.user, project=project) if model_id else None
        changed = model is not None and model.pk != project.queue_reward_model_id
        project = active_selection_set(
            project=project, user=request.user, queue_order=data["queue_order"], reward_model=model
        )
        body = _body(project)
        if (
            data["score_now"]
            and project.queue_order == QueueOrder.UNCERTAINTY
            and body["open_ranking_tasks"]
            and (changed or body["scored_by_reward_model"] < body["open_ranking_tasks"])
        ):
            body["scoring_job"] = queue_scoring_job_start(project=project, user=request.user).pk
        return Response(body)


class QueueScoringJobList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project, _ = project_for(request.user, project_id, VIEW_ROLE)
        jobs = (
            ScoringJob.objects.filter(project=project, type=JobType.SCORING, purpose=ScoringJob.Purpose.QUEUE)
            .select_related("created_by")
            .order_by("-id")[:100]
        )
        return Response([job_payload(job, log_tail=5) for job in jobs])

    @extend_schema(request=QueueScoringJobSerializer, responses={202: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        project, _ = project_for(request.user, project_id, JOB_ROLE)
        serializer = QueueScoringJobSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        model_id = data.get("reward_model")
        model = model_get(model_id=model_id, user=request.user, project=project) if model_id else None
        job = queue_scoring_job_start(
            project=project, user=request.user, reward_model=model, batch_size=data["batch_size"]
        )
        return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)
