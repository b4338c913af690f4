from django.conf import settings
from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    """A model on local disk: a base someone registered, or the output of a training job.

    `parent` is the model it was trained from; walking up the parents, with what each was trained on
    (trainer_bridge's ModelOrigin), reaches every label behind the model.
    """

    class Kind(models.TextChoices):
        BASE = "base"
        SFT = "sft"
        RM = "rm"
        POLICY = "policy"  # trained by reinforcement learning (GRPO) on rewards rather than labels
        ADAPTER = "adapter"  # LoRA weights that run only on top of `adapter_of`; merge them to run alone

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    path = models.CharField(max_length=1000, help_text="a local directory (config, weights, tokenizer)")
    # None for a base model every project may use
    project = models.ForeignKey(
        "labeling.Project", on_delete=models.PROTECT, related_name="model_versions", null=True, blank=True
    )
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="children", null=True, blank=True
    )
    # An adapter (LoRA) is a small set of weights that only runs on top of its base model.
    adapter_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="adapters", null=True, blank=True
    )
    metrics = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="base") | Q(parent__isnull=False), name="trained_model_has_parent"
            ),
            models.CheckConstraint(
                condition=~Q(kind="adapter") | Q(adapter_of__isnull=False), name="adapter_has_base"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def adapter_refusal(self) -> str | None:
        """Why this version cannot write or score answers as it is (a LoRA adapter: merge it first)."""
        if self.kind != self.Kind.ADAPTER:
            return None
        base = self.adapter_of.name if self.adapter_of else "its base"
        return (
            f"{self.name} is a LoRA adapter of {base}: merge it into a model version first "
            f"(a merge job: POST /api/models/{self.pk}/merge/ or `manage.py merge_adapter {self.name}`)"
        )

    @property
    def candidate_model_name(self) -> str:
        """The model_name its candidates carry: stable per version, so a retried job hits the unique key."""
        return f"{self.name}@{self.pk}"


# --- model servers ---------------------------------------------------------------------------------------


class ModelServer(models.Model):
    """An OpenAI-compatible server answering for a model version: one Coach started (a serving job runs it
    and stops it), or one an operator runs elsewhere and registered by its URL."""

    class Engine(models.TextChoices):
        VLLM = "vllm", "vLLM"
        TRANSFORMERS = "transformers", "transformers (Coach's own server)"
        OPENAI = "openai", "another OpenAI-compatible server"

    class Status(models.TextChoices):
        STARTING = "starting"
        HEALTHY = "healthy"
        UNHEALTHY = "unhealthy"  # the last check got no good answer; checks go on
        STOPPING = "stopping"  # asked to stop: no new client picks it
        STOPPED = "stopped"  # stopped, or unregistered: never used again

    LIVE = (Status.STARTING, Status.HEALTHY, Status.UNHEALTHY)

    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="servers")
    # The project it was started or registered from: its admins manage it.
    project = models.ForeignKey("labeling.Project", on_delete=models.PROTECT, related_name="model_servers")
    engine = models.CharField(max_length=20, choices=Engine.choices)
    managed = models.BooleanField(help_text="Coach started it and stops it; otherwise an operator runs it")
    url = models.CharField(max_length=500, blank=True, default="", help_text="base URL, ending in /v1")
    served_model_name = models.CharField(max_length=200)
    # The name of an environment variable that holds the API key where the clients run; never the key.
    api_key_env = models.CharField(max_length=100, blank=True, default="")
    options = models.JSONField(
        default=dict, blank=True
    )  # how a managed server is started (tensor parallel...)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTING)
    detail = models.TextField(blank=True, default="")  # what the last check or the stop said
    checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["model_version", "status"], name="server_by_model")]

    def __str__(self) -> str:
        return f"{self.get_engine_display()} server #{self.pk} for {self.model_version.name}"
