"""REST API of blind A/B evaluation: start one, score its answers, read the leaderboard, get the votes."""

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.forms import id_or_error
from core.types import ApiRequest
from labeling.access import project_for
from labeling.views.display import query_int
from trainer_bridge.exports.evaluation import evaluation_dpo_rows, evaluation_vote_rows, jsonl_response
from trainer_bridge.jobs.lifecycle import JOB_ROLE, VIEW_ROLE
from trainer_bridge.leaderboard import leaderboard_payload, project_leaderboard
from trainer_bridge.selectors import job_payload, model_get
from trainer_bridge.services.evaluation import evaluation_start
from trainer_bridge.services.scoring import scoring_job_start

INT_MAX, SMALLINT_MAX = 2**31 - 1, 2**15 - 1


class EvaluationStartSerializer(serializers.Serializer):
    versions = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=INT_MAX), min_length=2, max_length=64
    )
    # "source" is also a Field attribute in the stubs; here it is the prompts' source, as the API names it
    source = serializers.CharField(  # type: ignore[assignment]
        required=False,
        allow_null=True,
        default=None,
        max_length=200,
        help_text="the prompts of this source; by default, those imported as evaluation prompts",
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=INT_MAX)
    pairs_per_prompt = serializers.IntegerField(
        required=False, min_value=1, max_value=SMALLINT_MAX, help_text="default: every pair of versions"
    )
    seed = serializers.IntegerField(default=0, min_value=-INT_MAX, max_value=INT_MAX)
    max_new_tokens = serializers.IntegerField(default=256, min_value=1, max_value=INT_MAX)
    temperature = serializers.FloatField(default=1.0)
    top_p = serializers.FloatField(default=1.0)


class ScoringJobSerializer(serializers.Serializer):
    reward_model = serializers.IntegerField(min_value=1, max_value=INT_MAX)
    batch_size = serializers.IntegerField(default=16, min_value=1, max_value=SMALLINT_MAX)


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _id(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    return id_or_error(value, name) if value else None


class Leaderboard(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        """Bradley-Terry ratings with 95% bootstrap intervals, records against a baseline (overall and per
        prompt source or metadata key: `?by=`), position bias, and each version's pass@k and mean reward.
        Query: baseline, by, reward_model, practice_set, k, accepted=1."""
        project, _ = project_for(request.user, project_id, VIEW_ROLE)
        view = project_leaderboard(
            project=project,
            baseline_id=_id(request, "baseline"),
            by=request.query_params.get("by") or "source",
            reward_model_id=_id(request, "reward_model"),
            practice_set_id=_id(request, "practice_set"),
            k=query_int(request.query_params.get("k"), 8, high=64),
            accepted_only=request.query_params.get("accepted") == "1",
        )
        return Response(leaderboard_payload(view))


class EvaluationStart(APIView):
    @extend_schema(request=EvaluationStartSerializer, responses={201: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        """Plan blind comparisons of two or more versions on a prompt set; generation jobs write the
        answers that are missing, and each comparison becomes an evaluation task once both exist."""
        project, _ = project_for(request.user, project_id, JOB_ROLE)
        data = _valid(EvaluationStartSerializer, request.data)
        versions = [model_get(model_id=pk, user=request.user, project=project) for pk in data.pop("versions")]
        started = evaluation_start(project=project, versions=versions, user=request.user, **data)
        return Response(
            {
                "pairs_planned": started.plan.pairs_planned,
                "tasks_created": started.plan.tasks_created,
                "prompts": started.plan.prompts,
                "generation_jobs": [job.pk for job in started.jobs],
            },
            status=status.HTTP_201_CREATED,
        )


class ScoringJobStart(APIView):
    @extend_schema(request=ScoringJobSerializer, responses={201: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        """Score every evaluation answer a reward model has not scored yet (a job on the gpu queue)."""
        project, _ = project_for(request.user, project_id, JOB_ROLE)
        data = _valid(ScoringJobSerializer, request.data)
        reward_model = model_get(model_id=data["reward_model"], user=request.user, project=project)
        job = scoring_job_start(
            project=project, reward_model=reward_model, user=request.user, batch_size=data["batch_size"]
        )
        return Response(job_payload(job), status=status.HTTP_201_CREATED)


class _Download(APIView):
    what = ""

    def rows(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def get(self, request: ApiRequest, project_id: int) -> StreamingHttpResponse:
        project, _ = project_for(request.user, project_id, VIEW_ROLE)
        rows = self.rows(project=project, accepted_only=request.query_params.get("accepted") == "1")
        return jsonl_response(rows, f"project-{project.pk}-evaluation-{self.what}.jsonl")


class EvaluationVotes(_Download):
    """Every vote that counts, as JSONL: prompt, both versions and answers, the left one, the choice, the
    reason, the labeler (`?accepted=1`: reviewed and accepted only)."""

    what = "votes"

    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> StreamingHttpResponse:
        return super().get(request, project_id)

    def rows(self, **kwargs: Any) -> Any:
        return evaluation_vote_rows(**kwargs)


class EvaluationPairs(_Download):
    """DPO preference pairs, as JSONL: one per evaluation task where one side won more votes."""

    what = "dpo-pairs"

    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> StreamingHttpResponse:
        return super().get(request, project_id)

    def rows(self, **kwargs: Any) -> Any:
        return evaluation_dpo_rows(**kwargs)
