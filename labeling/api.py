"""REST API: parse, check who may do it, call a service, render. Errors map to HTTP in core.api."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainError, NotAllowed
from core.types import ApiRequest
from guidelines.models import GuidelineVersion
from guidelines.selectors import guideline_current_version, guideline_version_pending_for
from guidelines.services import guideline_acknowledge, guideline_publish
from labeling import importing, search
from labeling.access import assignment_role, project_for, project_role
from labeling.models import Assignment, Candidate, ChatSettings, Project, Role, TaskKind
from labeling.selectors.annotations import annotations_for
from labeling.selectors.chat import chat_opening, chat_settings_of
from labeling.selectors.projects import project_progress, projects_for
from labeling.selectors.work import assignment_payload, search_document_reading, searches_for
from labeling.serializers import (
    AcknowledgeSerializer,
    AssignmentSerializer,
    GuidelineSerializer,
    GuidelineVersionSerializer,
    ImportResultSerializer,
    ImportSerializer,
    MembershipSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
    ReviewOutSerializer,
    ReviewSerializer,
    SearchSerializer,
    SkipSerializer,
    SubmitSerializer,
)
from labeling.services import chat, drafts
from labeling.services.annotations import demonstration_submit, ranking_submit
from labeling.services.evaluation import evaluation_vote_submit
from labeling.services.imports import candidates_import, prompts_import
from labeling.services.projects import membership_set, project_create, project_update
from labeling.services.queue import assignment_release, assignment_renew, assignment_skip, claim_next_task
from labeling.services.review import review_create
from registry.selectors import models_for


def _project(request: ApiRequest, project_id: int, role: str) -> Project:
    return project_for(request.user, project_id, role)[0]


def _valid(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ProjectList(APIView):
    @extend_schema(responses=ProjectSerializer(many=True))
    def get(self, request: ApiRequest) -> Response:
        return Response(ProjectSerializer(projects_for(user=request.user), many=True).data)

    @extend_schema(request=ProjectSerializer, responses={201: ProjectSerializer})
    def post(self, request: ApiRequest) -> Response:
        if not request.user.is_staff:
            raise NotAllowed("only site admins create projects")
        data = _valid(ProjectSerializer, request.data)
        project = project_create(created_by=request.user, **data)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetail(APIView):
    @extend_schema(responses=ProjectSerializer)
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, Role.LABELER)
        return Response(ProjectSerializer(project).data | {"progress": project_progress(project=project)})

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def patch(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, Role.ADMIN)
        serializer = ProjectUpdateSerializer(project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        project = project_update(project=project, **serializer.validated_data)
        return Response(ProjectSerializer(project).data)


class MemberList(APIView):
    @extend_schema(responses=MembershipSerializer(many=True))
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, Role.ADMIN)
        members = project.memberships.select_related("user").order_by("user__username")
        return Response([{"username": m.user.username, "role": m.role} for m in members])

    @extend_schema(request=MembershipSerializer, responses=MembershipSerializer)
    def put(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, Role.ADMIN)
        data = _valid(MembershipSerializer, request.data)
        user = get_user_model().objects.filter(username=data["username"]).first()
        if user is None:
            raise DomainError(f"no user named {data['username']!r}", field="username")
        membership = membership_set(project=project, user=user, role=data["role"])
        return Response({"username": user.username, "role": membership.role})


CHAT_SETTINGS = ("k", "max_new_tokens", "temperature", "seconds_limit", "calls_per_minute")


def _chat_settings_body(settings: ChatSettings) -> dict[str, Any]:
    version = settings.model_version
    named: dict[str, Any] = {"model_version": None, "model_name": None}
    if version is not None:
        named = {"model_version": version.pk, "model_name": version.name}
    return named | {f: getattr(settings, f) for f in CHAT_SETTINGS}


class ChatSettingsDetail(APIView):
    """The model version a project's chats talk to, K and the bounds on each call (admins). A PUT changes
    the fields it names and keeps the others; `model_version: null` leaves labelers to write both roles."""

    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, Role.ADMIN)
        return Response(_chat_settings_body(chat_settings_of(project)))

    @extend_schema(request=None, responses={200: None})
    def put(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, Role.ADMIN)
        body = request.data if isinstance(request.data, dict) else {}
        if unknown := sorted(set(body) - {"model_version", *CHAT_SETTINGS}):
            raise DomainError(f"unknown fields {unknown[:5]}", field=unknown[0])
        current = chat_settings_of(project)
        version = current.model_version
        if "model_version" in body:
            ref = body["model_version"]
            if ref is not None and (isinstance(ref, bool) or not isinstance(ref, int)):
                raise DomainError("model_version is a model version's id, or null", field="model_version")
            version = None if ref is None else models_for(project_id=project.pk).filter(pk=ref).first()
            if ref is not None and version is None:
                raise DomainError(f"no model version {ref} in this project", field="model_version")
        values = {f: body.get(f, getattr(current, f)) for f in CHAT_SETTINGS}
        settings = chat.chat_settings_set(project=project, user=request.user, model_version=version, **values)
        return Response(_chat_settings_body(settings))


class GuidelineDetail(APIView):
    @extend_schema(responses=GuidelineSerializer)
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, Role.LABELER)
        guideline = project.guideline
        current = guideline_current_version(guideline=guideline)
        pending = guideline_version_pending_for(user=request.user, guideline=guideline)
        return Response(
            {
                "title": guideline.title,
                "current": GuidelineVersionSerializer(current).data if current else None,
                "acknowledged": pending is None,
                "versions": list(guideline.versions.values_list("number", flat=True)),
            }
        )


class GuidelinePublish(APIView):
    @extend_schema(request=GuidelineVersionSerializer, responses={201: GuidelineVersionSerializer})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, Role.ADMIN)
        data = _valid(GuidelineVersionSerializer, request.data)
        version = guideline_publish(
            guideline=project.guideline,
            author=request.user,
            body=data["body"],
            change_note=data["change_note"],
        )
        return Response(GuidelineVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class GuidelineAcknowledge(APIView):
    @extend_schema(request=AcknowledgeSerializer, responses={204: None})
    def post(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, Role.LABELER)
        number = _valid(AcknowledgeSerializer, request.data)["version"]
        version = GuidelineVersion.objects.filter(guideline=project.guideline, number=number).first()
        if version is None:
            raise DomainError(f"the guideline has no version {number}", field="version")
        guideline_acknowledge(user=request.user, version=version)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _Import(APIView):
    parser_classes = [MultiPartParser, FormParser]

    def _run(self, request: ApiRequest, project_id: int, which: str) -> Response:
        project = _project(request, project_id, Role.ADMIN)
        data = _valid(ImportSerializer, request.data)
        upload = data["file"]
        try:
            fmt = importing.detect_format(upload.name, data.get("format"))
        except ValueError as exc:
            raise DomainError(str(exc), field="format") from None
        if which == "prompts":
            result = prompts_import(project=project, stream=upload, fmt=fmt, task_kind=data.get("task_kind"))
        else:
            result = candidates_import(project=project, stream=upload, fmt=fmt)
        return Response(ImportResultSerializer(result).data)


class PromptImport(_Import):
    @extend_schema(request={"multipart/form-data": ImportSerializer}, responses=ImportResultSerializer)
    def post(self, request: ApiRequest, project_id: int) -> Response:
        return self._run(request, project_id, "prompts")


class CandidateImport(_Import):
    @extend_schema(request={"multipart/form-data": ImportSerializer}, responses=ImportResultSerializer)
    def post(self, request: ApiRequest, project_id: int) -> Response:
        return self._run(request, project_id, "candidates")


class NextTask(APIView):
    @extend_schema(
        request=None, responses={200: AssignmentSerializer, 204: OpenApiResponse(description="no task")}
    )
    def post(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, Role.LABELER)
        assignment = claim_next_task(project=project, labeler=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(assignment_payload(assignment=assignment))


def _assignment_visible(request: ApiRequest, assignment_id: int) -> Assignment:
    assignment = get_object_or_404(
        Assignment.objects.select_related("task__project", "task__prompt"), pk=assignment_id
    )
    assignment_role(user=request.user, assignment=assignment)
    return assignment


class AssignmentDetail(APIView):
    @extend_schema(responses=AssignmentSerializer)
    def get(self, request: ApiRequest, assignment_id: int) -> Response:
        assignment = _assignment_visible(request, assignment_id)
        return Response(assignment_payload(assignment=assignment))


class Submit(APIView):
    @extend_schema(request=SubmitSerializer, responses={201: None, 200: None})
    def post(self, request: ApiRequest, assignment_id: int) -> Response:
        data = _valid(SubmitSerializer, request.data)
        if "choice" in data:
            vote, created = evaluation_vote_submit(
                assignment_id=assignment_id,
                labeler=request.user,
                choice=data["choice"],
                reason=data.get("reason", ""),
                seconds=data["seconds"],
            )
            body = {
                "kind": "evaluation",
                "id": vote.pk,
                "choice": vote.choice,
                "reason": vote.reason,
                "revision": vote.revision,
            }
        elif "tiers" in data or data["all_bad"]:
            ranking, created = ranking_submit(
                assignment_id=assignment_id,
                labeler=request.user,
                tiers=data.get("tiers"),
                ratings=data.get("ratings"),
                all_bad=data["all_bad"],
                seconds=data["seconds"],
            )
            body = {
                "kind": "ranking",
                "id": ranking.pk,
                "tiers": ranking.tiers,
                "all_bad": ranking.all_bad,
                "revision": ranking.revision,
            }
        elif "answer" in data or "citations" in data:
            demonstration, created = drafts.search_demonstration_submit(
                assignment_id=assignment_id,
                labeler=request.user,
                answer=data.get("answer", ""),
                citations=data.get("citations"),
                seconds=data["seconds"],
                pasted_chars=data["pasted_chars"],
            )
            body = {
                "kind": "demonstration",
                "id": demonstration.pk,
                "messages": demonstration.messages,
                "tools": demonstration.tools,
                "revision": demonstration.revision,
            }
        elif "messages" in data and _is_chat(assignment_id):
            demonstration, created = chat.chat_submit(
                assignment_id=assignment_id,
                labeler=request.user,
                messages=data["messages"],
                seconds=data["seconds"],
            )
            body = {
                "kind": "chat",
                "id": demonstration.pk,
                "messages": demonstration.messages,
                "revision": demonstration.revision,
            }
        elif "messages" in data:
            demonstration, created = demonstration_submit(
                assignment_id=assignment_id,
                labeler=request.user,
                messages=data["messages"],
                tools=data.get("tools"),
                seconds=data["seconds"],
                pasted_chars=data["pasted_chars"],
                model_draft=data.get("model_draft"),
            )
            body = {
                "kind": "demonstration",
                "id": demonstration.pk,
                "messages": demonstration.messages,
                "revision": demonstration.revision,
            }
        else:
            raise DomainError(
                "give tiers (a ranking), messages (a demonstration), answer and citations (a search task) "
                "or choice (an evaluation vote)",
                field="tiers",
            )
        body["assignment"] = assignment_id
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _is_chat(assignment_id: int) -> bool:
    return Assignment.objects.filter(pk=assignment_id, task__kind=TaskKind.CHAT).exists()


class ChatConversation(APIView):
    """A chat task's conversation: GET it as saved, PUT it (the autosave)."""

    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, assignment_id: int) -> Response:
        assignment = _assignment_visible(request, assignment_id)
        messages, seconds = chat_opening(assignment)
        return Response({"assignment": assignment.pk, "messages": messages, "seconds": seconds})

    @extend_schema(request=None, responses={200: None})
    def put(self, request: ApiRequest, assignment_id: int) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        draft = chat.chat_draft_save(
            assignment_id=assignment_id,
            labeler=request.user,
            messages=body.get("messages") or [],
            seconds=body.get("seconds", 0),
        )
        return Response({"messages": draft.messages, "saved_at": draft.updated_at})


class ChatSearch(APIView):
    """The assistant searches the project's documents: the call and its result join the conversation."""

    @extend_schema(request=None, responses={200: None})
    def post(self, request: ApiRequest, assignment_id: int) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        conversation = chat.chat_search(
            assignment_id=assignment_id,
            labeler=request.user,
            messages=body.get("messages"),
            query=body.get("query"),
            seconds=body.get("seconds"),
        )
        return Response({"messages": conversation.with_turns()})


class ChatReply(APIView):
    """The model's reply to a conversation that ends with the user's turn, whole (the web page streams it)."""

    @extend_schema(request=None, responses={201: None})
    def post(self, request: ApiRequest, assignment_id: int) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        call = chat.chat_reply_begin(
            assignment_id=assignment_id, labeler=request.user, messages=body.get("messages")
        )
        for event in chat.chat_reply_stream(call):
            if "error" in event:
                raise chat.ModelUnavailable(event["error"], field="model_version")
            if event.get("done"):
                return Response(
                    {"chat_turn": event["turn"], "content": event["text"], "finish": event["finish"]},
                    status=status.HTTP_201_CREATED,
                )
        raise chat.ModelUnavailable("the model wrote nothing", field="model_version")


class ChatAlternatives(APIView):
    """K-1 more replies at the assistant turn `index`: the turn's K candidates, to be ranked."""

    @extend_schema(request=None, responses={201: None})
    def post(self, request: ApiRequest, assignment_id: int) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        call, wanted = chat.chat_alternatives_begin(
            assignment_id=assignment_id,
            labeler=request.user,
            messages=body.get("messages"),
            index=body.get("index"),
        )
        turn = chat.chat_alternatives_sample(call=call, n=wanted)
        by_id = Candidate.objects.in_bulk(turn.candidate_ids)
        candidates = [{"id": cid, "text": by_id[cid].text} for cid in turn.candidate_ids]
        return Response({"chat_turn": turn.pk, "candidates": candidates}, status=status.HTTP_201_CREATED)


class ChatTurnRanking(APIView):
    """Rank a turn's replies (tiers of candidate ids, best first); the best becomes the turn's reply."""

    @extend_schema(request=None, responses={201: None})
    def post(self, request: ApiRequest, assignment_id: int, turn_id: int) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        ranking = chat.chat_turn_rank(
            assignment_id=assignment_id,
            labeler=request.user,
            turn_id=turn_id,
            tiers=body.get("tiers"),
            ratings=body.get("ratings"),
            all_bad=bool(body.get("all_bad", False)),
            seconds=body.get("seconds", 0),
        )
        return Response(
            {"id": ranking.pk, "chat_turn": turn_id, "tiers": ranking.tiers, "revision": ranking.revision},
            status=status.HTTP_201_CREATED,
        )


class Search(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, assignment_id: int) -> Response:
        """The searches run for this assignment so far, each with the results it returned."""
        assignment = _assignment_visible(request, assignment_id)
        steps = searches_for(assignment=assignment)
        return Response({"searches": [_search_step(i, step) for i, step in enumerate(steps)]})

    @extend_schema(request=SearchSerializer, responses={201: None})
    def post(self, request: ApiRequest, assignment_id: int) -> Response:
        """Run a search of the project's corpora and record it; a submission cites its results by
        [search, document id]."""
        query = _valid(SearchSerializer, request.data)["query"]
        index, step = drafts.search_run(assignment_id=assignment_id, labeler=request.user, query=query)
        return Response(_search_step(index, step), status=status.HTTP_201_CREATED)


class SearchDocumentDetail(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, assignment_id: int, document_id: int) -> Response:
        """A whole document of the project's corpora, to read before citing it; `?search=N` names a recorded
        search, and `cite_as` is set when the document is one of its results."""
        assignment = _assignment_visible(request, assignment_id)
        index = request.query_params.get("search", "")
        reading = search_document_reading(
            assignment=assignment,
            document_id=document_id,
            search_index=int(index) if index.isascii() and index.isdigit() and len(index) < 7 else None,
        )
        document = reading.document
        cite_as = [int(n) for n in reading.pick.split(":")] if reading.pick else None
        return Response(
            {"document": document.pk, "title": document.title, "url": document.url, "text": document.text}
            | {"cite_as": cite_as}
        )


def _search_step(index: int, step: dict[str, Any]) -> dict[str, Any]:
    return {
        "search": index,
        "query": step["query"],
        "results": [
            {
                "document": r["id"],
                "cite_as": [index, r["id"]],
                "title": r["title"],
                "url": r["url"],
                "passage": search.headline_text(r["headline"]),
            }
            for r in step["results"]
        ],
    }


class Skip(APIView):
    @extend_schema(request=SkipSerializer, responses={204: None})
    def post(self, request: ApiRequest, assignment_id: int) -> Response:
        reason = _valid(SkipSerializer, request.data)["reason"]
        assignment_skip(assignment_id=assignment_id, labeler=request.user, reason=reason)
        return Response(status=status.HTTP_204_NO_CONTENT)


class Release(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: ApiRequest, assignment_id: int) -> Response:
        assignment_release(assignment_id=assignment_id, labeler=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class Renew(APIView):
    @extend_schema(request=None, responses={200: None})
    def post(self, request: ApiRequest, assignment_id: int) -> Response:
        assignment = assignment_renew(assignment_id=assignment_id, labeler=request.user)
        return Response({"lease_expires_at": assignment.lease_expires_at})


class AnnotationList(APIView):
    @extend_schema(responses={200: None})
    def get(self, request: ApiRequest, project_id: int) -> Response:
        project = _project(request, project_id, Role.LABELER)
        mine = project_role(user=request.user, project=project) == Role.LABELER
        kind = request.query_params.get("kind")
        if kind not in (None, "ranking", "demonstration", "evaluation"):
            raise DomainError("kind is ranking, demonstration or evaluation", field="kind")
        rows = annotations_for(project=project, labeler=request.user if mine else None, kind=kind)
        return Response(rows)


class ReviewCreate(APIView):
    @extend_schema(request=ReviewSerializer, responses={201: ReviewOutSerializer})
    def post(self, request: ApiRequest, assignment_id: int) -> Response:
        data = _valid(ReviewSerializer, request.data)
        with transaction.atomic():
            review = review_create(assignment_id=assignment_id, reviewer=request.user, **data)
        return Response(ReviewOutSerializer(review).data, status=status.HTTP_201_CREATED)
