"""REST API for models, generation and training jobs, and retrain policies: parse, call a service, render."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainError, NotAllowed, NotFound
from core.types import ApiRequest
from curation.models import PracticeSet
from curation.selectors import snapshot_get
from labeling.access import project_for
from labeling.models import Project
from registry.models import ModelVersion
from registry.selectors import models_for
from registry.services import model_register
from trainer_bridge.engines import ENGINES
from trainer_bridge.jobs.lifecycle import JOB_ROLE, VIEW_ROLE, job_cancel, job_retry
from trainer_bridge.models import BestOfNJob, GenerationJob, GRPOJob, JobType, RetrainPolicy, TrainingJob
from trainer_bridge.selectors import (
    job_get,
    job_payload,
    jobs_for,
    metric_points,
    model_get,
    model_label_counts,
    model_lineage,
    model_payload,
    policies_for,
    policy_get,
)
from trainer_bridge.services.best_of_n import best_of_n_start
from trainer_bridge.services.generation import WHICH, generation_job_start
from trainer_bridge.services.grpo import grpo_job_start
from trainer_bridge.services.merging import merge_job_start
from trainer_bridge.services.models import model_attach_chat_template
from trainer_bridge.services.retrain import (
    retrain_policy_check,
    retrain_policy_create,
    retrain_policy_delete,
    retrain_policy_update,
)
from trainer_bridge.services.training import training_job_start


def _project(request: ApiRequest, project_id: int, role: str) -> Project:
    return project_for(request.user, project_id, role)[0]


# Every whole number here lands in a Postgres integer column (or sizes one); larger ones are refused as input.
INT_MAX, SMALLINT_MAX = 2**31 - 1, 2**15 - 1


class ModelRegisterSerializer(serializers.Serializer):
    path = serializers.CharField(max_length=1000, help_text="a directory on the server")
    name = serializers.CharField(max_length=200, required=False, default="")
    description = serializers.CharField(required=False, default="")


class GenerationJobSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(max_value=INT_MAX)
    k = serializers.IntegerField(
        required=False, min_value=1, max_value=SMALLINT_MAX, help_text="default: the project's K"
    )
    which = serializers.ChoiceField(choices=list(WHICH), default="waiting")
    # "source" is also a Field attribute in the stubs; here it is the prompts' source, as the API names it
    source = serializers.CharField(required=False, default="", allow_blank=True)  # type: ignore[assignment]
    limit = serializers.IntegerField(required=False, min_value=1, max_value=INT_MAX)
    prompt_ids = serializers.ListField(child=serializers.IntegerField(max_value=INT_MAX), required=False)
    max_new_tokens = serializers.IntegerField(default=256, max_value=INT_MAX)
    temperature = serializers.FloatField(default=1.0)
    top_p = serializers.FloatField(default=1.0)
    seed = serializers.IntegerField(default=0, min_value=-INT_MAX, max_value=INT_MAX)
    batch_size = serializers.IntegerField(default=8, min_value=1, max_value=SMALLINT_MAX)
    engine = serializers.ChoiceField(
        choices=list(ENGINES),
        default="auto",
        help_text="auto: the model's server when one answers, else Coach's loop; vllm; transformers",
    )


class BestOfNJobSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(max_value=INT_MAX, help_text="the model that writes the answers")
    reward_model = serializers.IntegerField(max_value=INT_MAX, help_text="the reward model that scores them")
    n = serializers.IntegerField(default=4, min_value=1, max_value=64, help_text="answers per prompt")
    which = serializers.ChoiceField(choices=list(WHICH), default="all")
    source = serializers.CharField(required=False, default="", allow_blank=True)  # type: ignore[assignment]
    limit = serializers.IntegerField(required=False, min_value=1, max_value=INT_MAX)
    snapshot_name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    validation_fraction = serializers.FloatField(default=0.1)
    max_new_tokens = serializers.IntegerField(default=256, max_value=INT_MAX)
    temperature = serializers.FloatField(default=1.0)
    top_p = serializers.FloatField(default=1.0)
    seed = serializers.IntegerField(default=0, min_value=-INT_MAX, max_value=INT_MAX)
    batch_size = serializers.IntegerField(default=8, min_value=1, max_value=SMALLINT_MAX)
    engine = serializers.ChoiceField(choices=list(ENGINES), default="auto")


class TrainingJobSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TrainingJob.Kind.values)
    snapshot = serializers.IntegerField(max_value=INT_MAX)
    base_model = serializers.IntegerField(max_value=INT_MAX)
    config = serializers.DictField(
        required=False, help_text="lr, max_steps, epochs, batch_size, ...; dpo: loss_type, beta, lora_r"
    )
    data_options = serializers.DictField(
        required=False, help_text="sft: kinds; rm and dpo: by (labeler|consensus)"
    )
    output_name = serializers.CharField(required=False, default="", allow_blank=True)


class GRPOJobSerializer(serializers.Serializer):
    practice_set = serializers.IntegerField(max_value=INT_MAX)
    base_model = serializers.IntegerField(max_value=INT_MAX)
    reward_model = serializers.IntegerField(max_value=INT_MAX, required=False, allow_null=True, default=None)
    config = serializers.DictField(
        required=False, help_text="lr, beta, num_generations, problems_per_step, max_steps, patience, ..."
    )
    output_name = serializers.CharField(required=False, default="", allow_blank=True)


class RetrainPolicySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=TrainingJob.Kind.values)
    base_model = serializers.IntegerField(max_value=INT_MAX)
    min_new_annotations = serializers.IntegerField(min_value=1, max_value=INT_MAX)
    interval_minutes = serializers.IntegerField(required=False, min_value=1, max_value=INT_MAX)
    crontab = serializers.CharField(required=False, default="", allow_blank=True)
    training_config = serializers.DictField(required=False)
    validation_fraction = serializers.FloatField(default=0.1)
    enabled = serializers.BooleanField(default=True)


class RetrainPolicyUpdateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    min_new_annotations = serializers.IntegerField(required=False, min_value=1, max_value=INT_MAX)
    interval_minutes = serializers.IntegerField(required=False, min_value=1, max_value=INT_MAX)
    crontab = serializers.CharField(required=False, allow_blank=True)
    validation_fraction = serializers.FloatField(required=False)


def policy_payload(policy: RetrainPolicy, *, runs: int = 20) -> dict[str, Any]:
    return {
        "id": policy.pk,
        "project": policy.project_id,
        "name": policy.name,
        "kind": policy.kind,
        "base_model": policy.base_model_id,
        "min_new_annotations": policy.min_new_annotations,
        "interval_minutes": policy.interval_minutes,
        "crontab": policy.crontab,
        "training_config": policy.training_config,
        "validation_fraction": policy.validation_fraction,
        "enabled": policy.enabled,
        "periodic_task": policy.periodic_task_id,
        "runs": [
            {
                "id": run.pk,
                "outcome": run.outcome,
                "reason": run.reason,
                "new_annotations": run.new_annotations,
                "snapshot": run.snapshot_id,
                "training_job": run.training_job_id,
                "checked_at": run.checked_at.isoformat(),
            }
            for run in policy.runs.order_by("-checked_at", "-id")[:runs]
        ],
    }


# --- models --------------------------------------------------------------------------------------


class ModelList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, VIEW_ROLE)
        return Response([model_payload(m) for m in models_for(project_id=project.pk)])

    @extend_schema(request=ModelRegisterSerializer, responses={201: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        """Register a base model directory for this project (site staff: it names a path on the server)."""
        project = _project(request, project_id, JOB_ROLE)
        if not request.user.is_staff:
            raise NotAllowed("registering a model directory on the server is for site staff")
        serializer = ModelRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model = model_register(project_id=project.pk, created_by=request.user, **serializer.validated_data)
        return Response(model_payload(model), status=status.HTTP_201_CREATED)


class ModelDetail(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, model_id: int) -> Response:
        """The model with its lineage (parents down to the base) and the labels each step trained on."""
        model = model_get(model_id=model_id, user=request.user)
        body = model_payload(model) | {
            "lineage": [model_payload(m) for m in model_lineage(model=model)],
            "labels": [
                {
                    "model": c["model"].pk,
                    "snapshot": c["snapshot"].pk,
                    "by_kind": c["by_kind"],  # the train split of the kinds it learned from
                    "validation": c["validation"],
                }
                for c in model_label_counts(model=model)
            ],
        }
        return Response(body)


class ChatTemplateSerializer(serializers.Serializer):
    builtin = serializers.CharField(required=False, allow_blank=True, max_length=50)
    template = serializers.CharField(required=False, allow_blank=True, max_length=100_000)


class ModelChatTemplate(APIView):
    @extend_schema(request=ChatTemplateSerializer, responses={200: None})
    def post(self, request: ApiRequest, model_id: int) -> Response:
        """Attach a chat template (one of Coach's by name, or the template text) to a model version."""
        model = model_get(model_id=model_id, user=request.user)
        serializer = ChatTemplateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model = model_attach_chat_template(model=model, user=request.user, **serializer.validated_data)
        return Response(model_payload(model))


class MergeSerializer(serializers.Serializer):
    output_name = serializers.CharField(required=False, allow_blank=True, max_length=200)


class AdapterMerge(APIView):
    @extend_schema(request=MergeSerializer, responses={201: None})
    def post(self, request: ApiRequest, model_id: int) -> Response:
        """Merge a LoRA adapter into its base (a job); the output is a model version that runs alone."""
        adapter = model_get(model_id=model_id, user=request.user)
        serializer = MergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data.get("output_name", "")
        job = merge_job_start(adapter=adapter, user=request.user, output_name=name)
        return Response(job_payload(job), status=status.HTTP_201_CREATED)


# --- jobs ----------------------------------------------------------------------------------------


def _model_in(request: ApiRequest, project: Project, model_id: int) -> ModelVersion:
    return model_get(model_id=model_id, user=request.user, project=project)


class GenerationJobList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, VIEW_ROLE)
        jobs = (
            GenerationJob.objects.filter(project=project).select_related("created_by").order_by("-id")[:100]
        )
        return Response([job_payload(job, log_tail=5) for job in jobs])

    @extend_schema(request=GenerationJobSerializer, responses={202: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, JOB_ROLE)
        serializer = GenerationJobSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        model = _model_in(request, project, data.pop("model_version"))
        job = generation_job_start(project=project, model_version=model, user=request.user, **data)
        return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)


class BestOfNJobList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, VIEW_ROLE)
        jobs = BestOfNJob.objects.filter(project=project).select_related("created_by").order_by("-id")[:100]
        return Response([job_payload(job, log_tail=5) for job in jobs])

    @extend_schema(request=BestOfNJobSerializer, responses={202: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        """Sample N answers per prompt, score them with a reward model, freeze the best as a snapshot."""
        project = _project(request, project_id, JOB_ROLE)
        serializer = BestOfNJobSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        model = _model_in(request, project, data.pop("model_version"))
        reward_model = _model_in(request, project, data.pop("reward_model"))
        job = best_of_n_start(
            project=project, model_version=model, reward_model=reward_model, user=request.user, **data
        )
        return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)


class TrainingJobList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, VIEW_ROLE)
        jobs = TrainingJob.objects.filter(project=project).select_related("created_by").order_by("-id")[:100]
        return Response([job_payload(job, log_tail=5) for job in jobs])

    @extend_schema(request=TrainingJobSerializer, responses={202: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, JOB_ROLE)
        serializer = TrainingJobSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        snapshot = snapshot_get(snapshot_id=data["snapshot"])
        if snapshot.project_id != project.pk:
            raise NotFound("no such snapshot in this project", field="snapshot")
        job = training_job_start(
            snapshot=snapshot,
            base_model=_model_in(request, project, data["base_model"]),
            kind=data["kind"],
            user=request.user,
            config=data.get("config"),
            data_options=data.get("data_options"),
            output_name=data["output_name"],
        )
        return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)


class GRPOJobList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, VIEW_ROLE)
        jobs = GRPOJob.objects.filter(project=project).select_related("created_by").order_by("-id")[:100]
        return Response([job_payload(job, log_tail=5) for job in jobs])

    @extend_schema(request=GRPOJobSerializer, responses={202: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, JOB_ROLE)
        serializer = GRPOJobSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        practice_set = PracticeSet.objects.filter(pk=data["practice_set"], project=project).first()
        if practice_set is None:
            raise NotFound("no such practice set in this project", field="practice_set")
        reward_model = data.get("reward_model")
        job = grpo_job_start(
            practice_set=practice_set,
            base_model=_model_in(request, project, data["base_model"]),
            reward_model=_model_in(request, project, reward_model) if reward_model is not None else None,
            user=request.user,
            config=data.get("config"),
            output_name=data["output_name"],
        )
        return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)


class JobList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        """Every job of the project, newest first (?type=export|generation|training|probe|practice)."""
        project = _project(request, project_id, VIEW_ROLE)
        types = [t for t in request.query_params.getlist("type") if t]
        if unknown := sorted(set(types) - set(JobType.values)):
            raise DomainError(f"type is one of {JobType.values}, not {unknown}", field="type")
        return Response(
            [job_payload(job, log_tail=5) for job in jobs_for(project=project, limit=100, types=types)]
        )


class JobDetail(APIView):
    type: str | None = None  # a kind-specific route (/api/generation-jobs/ID/) finds only its kind

    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, job_id: int) -> Response:
        job = job_get(type=self.type, job_id=job_id, user=request.user)
        body = job_payload(job, log_tail=None)
        body["metrics"] = [{"step": step, **values} for step, values in metric_points(job)]
        return Response(body)


class JobCancel(APIView):
    type: str | None = None

    @extend_schema(request=None, responses={202: None})
    def post(self, request: ApiRequest, job_id: int) -> Response:
        job = job_get(type=self.type, job_id=job_id, user=request.user)
        job = job_cancel(job=job, user=request.user)  # checks who may manage this kind of job
        return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)


class JobRetry(APIView):
    @extend_schema(request=None, responses={202: None})
    def post(self, request: ApiRequest, job_id: int) -> Response:
        """Queue a failed or cancelled job again; it resumes from what it saved."""
        job = job_get(job_id=job_id, user=request.user)
        job = job_retry(job=job, user=request.user)
        return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)


# --- retrain policies ----------------------------------------------------------------------------


class RetrainPolicyList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, VIEW_ROLE)
        return Response([policy_payload(p) for p in policies_for(project=project)])

    @extend_schema(request=RetrainPolicySerializer, responses={201: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, JOB_ROLE)
        serializer = RetrainPolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        policy = retrain_policy_create(
            project=project,
            user=request.user,
            base_model=_model_in(request, project, data.pop("base_model")),
            training_config_values=data.pop("training_config", None),
            **data,
        )
        return Response(policy_payload(policy), status=status.HTTP_201_CREATED)


class RetrainPolicyDetail(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, policy_id: int) -> Response:
        return Response(policy_payload(policy_get(policy_id=policy_id, user=request.user), runs=100))

    @extend_schema(request=RetrainPolicyUpdateSerializer, responses={200: None})
    def patch(self, request: ApiRequest, policy_id: int) -> Response:
        policy = policy_get(policy_id=policy_id, user=request.user, role=JOB_ROLE)
        serializer = RetrainPolicyUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        policy = retrain_policy_update(policy=policy, user=request.user, **serializer.validated_data)
        return Response(policy_payload(policy))

    @extend_schema(responses={204: None})
    def delete(self, request: ApiRequest, policy_id: int) -> Response:
        policy = policy_get(policy_id=policy_id, user=request.user, role=JOB_ROLE)
        retrain_policy_delete(policy=policy, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RetrainPolicyCheck(APIView):
    @extend_schema(request=None, responses={200: None})
    def post(self, request: ApiRequest, policy_id: int) -> Response:
        """Check the policy now, as its schedule would; the answer says whether it started a run and why."""
        policy = policy_get(policy_id=policy_id, user=request.user, role=JOB_ROLE)
        run = retrain_policy_check(policy_id=policy.pk)
        if run is None:
            raise NotFound("no such retrain policy")
        return Response(
            {
                "outcome": run.outcome,
                "reason": run.reason,
                "new_annotations": run.new_annotations,
                "snapshot": run.snapshot_id,
                "training_job": run.training_job_id,
            }
        )
