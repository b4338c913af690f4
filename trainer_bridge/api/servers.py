"""REST API for model servers: list, start, register, check and stop; parse, call a service, render."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.types import ApiRequest
from labeling.access import project_for
from registry.models import ModelServer
from registry.selectors import servers_for
from trainer_bridge.jobs.lifecycle import VIEW_ROLE
from trainer_bridge.selectors import model_get, model_server_get, server_payload
from trainer_bridge.services.servers import (
    SERVER_ROLE,
    STARTED_ENGINES,
    model_server_check,
    model_server_register,
    model_server_start,
    model_server_stop,
)

INT_MAX = 2**31 - 1


class ServerStartSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(max_value=INT_MAX)
    engine = serializers.ChoiceField(choices=[str(e) for e in STARTED_ENGINES], default="vllm")
    options = serializers.DictField(
        required=False, help_text="vLLM only: tensor_parallel_size, gpu_memory_utilization, max_model_len"
    )


class ServerRegisterSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(max_value=INT_MAX)
    url = serializers.CharField(max_length=500, help_text="the server's base URL, e.g. http://gpu-3:8000/v1")
    served_model_name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    engine = serializers.ChoiceField(choices=ModelServer.Engine.values, default="openai")
    api_key_env = serializers.CharField(
        max_length=100, required=False, default="", allow_blank=True, help_text="an environment variable name"
    )


class ServerList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project, _ = project_for(request.user, project_id, VIEW_ROLE)
        return Response([server_payload(s) for s in servers_for(project_id=project.pk)[:200]])

    @extend_schema(request=ServerStartSerializer, responses={202: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        """Start a server for a model version (a serving job keeps it running until it is stopped)."""
        project, _ = project_for(request.user, project_id, SERVER_ROLE)
        serializer = ServerStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        model = model_get(model_id=data["model_version"], user=request.user, project=project)
        server = model_server_start(
            project=project,
            model_version=model,
            user=request.user,
            engine=data["engine"],
            options=data.get("options"),
        )
        return Response(server_payload(server), status=status.HTTP_202_ACCEPTED)


class ServerRegister(APIView):
    @extend_schema(request=ServerRegisterSerializer, responses={201: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        """Register a server an operator runs, by its address (site staff)."""
        project, _ = project_for(request.user, project_id, SERVER_ROLE)
        serializer = ServerRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        model = model_get(model_id=data.pop("model_version"), user=request.user, project=project)
        server = model_server_register(project=project, model_version=model, user=request.user, **data)
        return Response(server_payload(server), status=status.HTTP_201_CREATED)


class ServerDetail(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, server_id: int) -> Response:
        return Response(server_payload(model_server_get(server_id=server_id, user=request.user)))


class ServerCheck(APIView):
    @extend_schema(request=None, responses={200: None})
    def post(self, request: ApiRequest, server_id: int) -> Response:
        """Ask the server now whether it answers for its model; the answer is recorded."""
        server = model_server_get(server_id=server_id, user=request.user, role=SERVER_ROLE)
        return Response(server_payload(model_server_check(server=server, user=request.user)))


class ServerStop(APIView):
    @extend_schema(request=None, responses={202: None})
    def post(self, request: ApiRequest, server_id: int) -> Response:
        server = model_server_get(server_id=server_id, user=request.user, role=SERVER_ROLE)
        return Response(
            server_payload(model_server_stop(server=server, user=request.user)),
            status=status.HTTP_202_ACCEPTED,
        )
