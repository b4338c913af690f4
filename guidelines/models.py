from django.conf import settings
from django.db import models


class Guideline(models.Model):
    """The labeling instructions of one project: an editable draft and its published versions."""

    title = models.CharField(max_length=200)
    draft_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class GuidelineVersion(models.Model):
    """A published version; Postgres refuses any UPDATE of a row (see migration 0002)."""

    guideline = models.ForeignKey(Guideline, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    body = models.TextField()
    change_note = models.CharField(max_length=500, blank=True, default="")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["guideline", "number"], name="guideline_version_number")
        ]
        ordering = ["guideline_id", "-number"]

    def __str__(self) -> str:
        return f"{self.guideline.title} v{self.number}"


class Acknowledgement(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(GuidelineVersion, on_delete=models.PROTECT, related_name="acknowledgements")
    acknowledged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="one_acknowledgement")]
