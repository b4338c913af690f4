"""Shapes of API input and output. Checking the domain's rules is the services' job."""

from typing import Any

from rest_framework import serializers

from core import jsonsafe
from labeling.forms import upload_within_limit
from labeling.models import Project, Role, TaskKind


class ProjectSerializer(serializers.ModelSerializer):
    task_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=TaskKind.choices), allow_empty=False
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "task_kinds",
            "k",
            "overlap",
            "lease_seconds",
            "allow_self_review",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]


class ProjectUpdateSerializer(ProjectSerializer):
    class Meta(ProjectSerializer.Meta):
        read_only_fields = ["id", "name", "created_at"]


class MembershipSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class GuidelineVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField(read_only=True)
    body = serializers.CharField(max_length=200_000)
    change_note = serializers.CharField(max_length=500, allow_blank=True, required=False, default="")
    author = serializers.CharField(source="author.username", read_only=True)
    published_at = serializers.DateTimeField(read_only=True)


class GuidelineSerializer(serializers.Serializer):
    title = serializers.CharField()
    current = GuidelineVersionSerializer(allow_null=True)
    acknowledged = serializers.BooleanField()
    versions = serializers.ListField(child=serializers.IntegerField())


class AcknowledgeSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(validators=[upload_within_limit])
    format = serializers.ChoiceField(choices=["jsonl", "csv"], required=False)
    task_kind = serializers.ChoiceField(choices=TaskKind.choices, required=False)


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    tasks_created = serializers.IntegerField()


class MessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(allow_blank=True, required=False, allow_null=True, trim_whitespace=False)
    tool_calls = serializers.ListField(child=serializers.DictField(), required=False)
    tool_call_id = serializers.CharField(required=False)
    name = serializers.CharField(required=False)


class CandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()


class TaskRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=TaskKind.choices)
    project = serializers.IntegerField()


class PromptRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    messages = MessageSerializer(many=True)


class AnswerSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=["left", "right"])
    text = serializers.CharField()


class ModelDraftSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    model_version = serializers.CharField()


class AssignmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    lease_expires_at = serializers.DateTimeField()
    task = TaskRefSerializer()
    prompt = PromptRefSerializer()
    candidates = CandidateSerializer(many=True, help_text="a ranking task's candidates, in the order shown")
    answers = AnswerSerializer(
        many=True, help_text="an evaluation task's two answers by side; who wrote them is not shown"
    )
    suggested_reply = serializers.CharField(
        help_text="a reply the labeler may approve as it is or edit (refusal tasks from a probe), else empty"
    )
    model_draft = ModelDraftSerializer(
        allow_null=True,
        help_text="the model version's draft the reply may start from (the project's model drafts are on and "
        "it is written); send its id as model_draft with the reply",
    )


class StorableJSONField(serializers.JSONField):
    """JSON that Postgres can keep: core.jsonsafe refuses deep nesting, NUL, NaN and lone surrogates."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        found = jsonsafe.problem(value)
        if found:
            raise serializers.ValidationError(f"{found[0] or 'the value'} {found[1]}")
        return value


class SubmitSerializer(serializers.Serializer):
    """A ranking (tiers, ratings, all_bad), a demonstration reply (messages, tools, pasted_chars), a search
    task's answer (answer, citations) or an evaluation vote (choice, reason)."""

    choice = serializers.CharField(
        required=False, max_length=10, help_text="an evaluation vote: left, right or tie (the answers' sides)"
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, trim_whitespace=False, help_text="why, for a vote"
    )

    tiers = StorableJSONField(
        required=False, help_text="candidate ids best to worst; a tier of several is a tie"
    )
    ratings = StorableJSONField(required=False)
    all_bad = serializers.BooleanField(required=False, default=False)
    messages = StorableJSONField(required=False, help_text="the reply: assistant (and tool) turns")
    tools = StorableJSONField(required=False, allow_null=True)
    answer = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200_000,
        help_text="a search task's answer, citing results as [1], [2], …",
    )
    citations = StorableJSONField(
        required=False,
        help_text="a search task's cited results in order: [search index, document id] from its searches",
    )
    seconds = serializers.FloatField(required=False, default=0.0, min_value=0, max_value=7 * 24 * 3600)
    pasted_chars = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)
    model_draft = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        help_text="the id of the model draft the reply started from (the assignment's model_draft)",
    )


class SearchSerializer(serializers.Serializer):
    query = serializers.CharField(
        max_length=2000,
        help_text='any of the words (documents holding more of them first); "a phrase" must appear; '
        '-word and -"a phrase" must not',
    )


class SkipSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class ReviewSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=["accept", "reject", "edit"])
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    edit = StorableJSONField(
        required=False, help_text="edit: {tiers, ratings}, {messages, tools} or, for a vote, {choice, reason}"
    )


class ReviewOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    assignment = serializers.IntegerField(source="assignment_id")
    reviewer = serializers.CharField(source="reviewer.username")
    verdict = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
