"""REST API for snapshots and exports (of snapshots and of practice sets): parse, check the role, call a
service, render."""

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from core.types import ApiRequest
from curation.models import DatasetSnapshot, PracticeSet
from curation.selectors import snapshot_get, snapshots_for
from curation.snapshots import Verdict, snapshot_freeze
from labeling.access import project_for, require_role
from labeling.models import Project, TaskKind
from trainer_bridge.exports import KINDS, LAYOUTS, PRACTICE_KINDS
from trainer_bridge.models import ExportJob, PracticeRun
from trainer_bridge.services.exports import (
    EXPORT_ROLE,
    export_job_file,
    export_job_for,
    export_job_payload,
    export_job_start,
    practice_export_job_start,
)

INT_MAX = 2**31 - 1


class SnapshotFreezeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=TaskKind.choices), required=False)
    verdict = serializers.ChoiceField(choices=list(Verdict.CHOICES), default=Verdict.ACCEPTED)
    submitted_after = serializers.DateTimeField(required=False)
    submitted_before = serializers.DateTimeField(required=False)
    guideline_versions = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    labelers = serializers.ListField(child=serializers.CharField(max_length=150), required=False)
    min_labeler_score = serializers.FloatField(min_value=0, max_value=1, required=False)
    seed = serializers.IntegerField(default=0)
    validation_fraction = serializers.FloatField(default=0.1, min_value=0, max_value=0.99)


class ExportStartSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(KINDS))
    format = serializers.ChoiceField(choices=["jsonl", "parquet"], required=False)
    split = serializers.ChoiceField(choices=["all", "train", "validation"], required=False)
    kinds = serializers.ListField(child=serializers.CharField(), required=False, help_text="sft and prompts")
    mode = serializers.ChoiceField(choices=["pairwise", "kwise"], required=False, help_text="rm only")
    by = serializers.ChoiceField(choices=["labeler", "consensus"], required=False, help_text="rm only")
    margin = serializers.BooleanField(required=False, help_text="rm pairwise only")
    edited_over_draft = serializers.BooleanField(
        required=False,
        help_text="rm pairwise only: also each reply a labeler changed from its model draft, over the draft",
    )
    skip_unchanged_drafts = serializers.BooleanField(
        required=False, help_text="sft only: leave out replies that are a model draft submitted as it was"
    )
    layout = serializers.ChoiceField(
        choices=list(LAYOUTS),
        required=False,
        help_text="whose trainer reads it: trl (default), verl (prompts), openrlhf (rm pairwise, prompts)",
    )


class PracticeExportStartSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(PRACTICE_KINDS))
    run = serializers.IntegerField(
        required=False, min_value=1, max_value=INT_MAX, help_text="a finished run (needed by sft and rm)"
    )
    format = serializers.ChoiceField(choices=["jsonl", "parquet"], required=False)
    split = serializers.ChoiceField(choices=["all", "train", "validation"], required=False)
    layout = serializers.ChoiceField(choices=list(LAYOUTS), required=False)


def snapshot_payload(snapshot: DatasetSnapshot, *, manifest: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": snapshot.pk,
        "project": snapshot.project_id,
        "name": snapshot.name,
        "row_count": snapshot.row_count,
        "sha256": snapshot.sha256,
        "counts": snapshot.manifest.get("counts", {}),
        "created_at": snapshot.created_at.isoformat(),
    }
    if manifest:
        body["manifest"] = snapshot.manifest
    return body


def _project(request: ApiRequest, project_id: int) -> Project:
    return project_for(request.user, project_id, EXPORT_ROLE)[0]


def _snapshot(request: ApiRequest, snapshot_id: int) -> DatasetSnapshot:
    snapshot = snapshot_get(snapshot_id=snapshot_id)
    require_role(user=request.user, project=snapshot.project, role=EXPORT_ROLE)
    return snapshot


def _job_body(request: ApiRequest, job: ExportJob) -> dict[str, Any]:
    url = request.build_absolute_uri(reverse("api-export-download", args=[job.pk]))
    return export_job_payload(job, download_url=url)


class SnapshotList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id)
        return Response([snapshot_payload(s) for s in snapshots_for(project=project)])

    @extend_schema(request=SnapshotFreezeSerializer, responses={201: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id)
        serializer = SnapshotFreezeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        snapshot = snapshot_freeze(
            project=project,
            created_by=request.user,
            name=data["name"],
            kinds=data.get("kinds"),
            verdict=data["verdict"],
            guideline_versions=data.get("guideline_versions"),
            labelers=data.get("labelers"),
            min_labeler_score=data.get("min_labeler_score"),
            seed=data["seed"],
            validation_fraction=data["validation_fraction"],
            submitted_after=data.get("submitted_after"),
            submitted_before=data.get("submitted_before"),
        )
        return Response(snapshot_payload(snapshot, manifest=True), status=status.HTTP_201_CREATED)


class SnapshotDetail(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, snapshot_id: int) -> Response:
        return Response(snapshot_payload(_snapshot(request, snapshot_id), manifest=True))


class ExportStart(APIView):
    @extend_schema(request=ExportStartSerializer, responses={202: None})
    def post(self, request: ApiRequest, snapshot_id: int) -> Response:
        snapshot = _snapshot(request, snapshot_id)
        serializer = ExportStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = dict(serializer.validated_data)
        kind = options.pop("kind")
        job, created = export_job_start(snapshot=snapshot, kind=kind, options=options, user=request.user)
        return Response(_job_body(request, job) | {"created": created}, status=status.HTTP_202_ACCEPTED)


class PracticeExportStart(APIView):
    @extend_schema(request=PracticeExportStartSerializer, responses={202: None})
    def post(self, request: ApiRequest, set_id: int) -> Response:
        practice_set = PracticeSet.objects.select_related("project").filter(pk=set_id).first()
        if practice_set is None:
            raise NotFound("no such practice set")
        require_role(user=request.user, project=practice_set.project, role=EXPORT_ROLE)
        serializer = PracticeExportStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = dict(serializer.validated_data)
        kind, run_id = options.pop("kind"), options.pop("run", None)
        run = None
        if run_id is not None:
            run = PracticeRun.objects.filter(pk=run_id, practice_set=practice_set).first()
            if run is None:
                raise NotFound(f"practice set {practice_set.pk} has no run {run_id}", field="run")
        job, created = practice_export_job_start(
            practice_set=practice_set, kind=kind, run=run, options=options, user=request.user
        )
        return Response(_job_body(request, job) | {"created": created}, status=status.HTTP_202_ACCEPTED)


class ExportStatus(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, job_id: int) -> Response:
        return Response(_job_body(request, export_job_for(job_id=job_id, user=request.user)))


class ExportDownload(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, job_id: int) -> FileResponse:
        path = export_job_file(export_job_for(job_id=job_id, user=request.user))
        return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)
