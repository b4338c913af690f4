"""How labelers treat model drafts: per labeler and per model version, the share of drafts submitted
unchanged and the median edit distance (characters and words) between a draft and the reply made of it."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Aggregate, Count, F, FloatField, Q, QuerySet

from labeling.models import Project, ReplyDraftEdit


class Median(Aggregate):
    """Postgres's percentile_cont(0.5): the median of a column, in the database."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


@dataclass(frozen=True)
class DraftFigures:
    name: str  # a labeler's username or a model version's name
    replies: int  # submitted replies that started from a draft
    unchanged: int  # of them, submitted exactly as drafted
    median_chars: float | None
    median_words: float | None
    median_word_share: float | None

    @property
    def unchanged_share(self) -> float | None:
        return self.unchanged / self.replies if self.replies else None


@dataclass(frozen=True)
class DraftReport:
    by_labeler: list[DraftFigures]
    by_model: list[DraftFigures]
    overall: DraftFigures
    word_shares: list[float]  # per reply: word edits over the longer text's words (the histogram)


def _measures() -> dict[str, Aggregate]:
    return {
        "replies": Count("id"),
        "unchanged_count": Count("id", filter=Q(unchanged=True)),
        "median_chars": Median("char_distance"),
        "median_words": Median("word_distance"),
        "median_word_share": Median("word_share"),
    }


def _grouped(edits: QuerySet[ReplyDraftEdit], key: str) -> list[DraftFigures]:
    rows = edits.values(name=F(key)).annotate(**_measures()).order_by("name")
    return [_as_figures(row) for row in rows]


def _as_figures(row: dict[str, Any]) -> DraftFigures:
    return DraftFigures(
        name=row["name"],
        replies=row["replies"],
        unchanged=row["unchanged_count"],
        median_chars=row["median_chars"],
        median_words=row["median_words"],
        median_word_share=row["median_word_share"],
    )


def draft_edit_report(*, project: Project) -> DraftReport:
    """The project's figures, in four queries whatever the number of replies."""
    edits = ReplyDraftEdit.objects.filter(demonstration__task__project=project)
    return DraftReport(
        by_labeler=_grouped(edits, "labeler__username"),
        by_model=_grouped(edits, "reply_draft__model_version__name"),
        overall=_as_figures(edits.aggregate(**_measures()) | {"name": "all"}),
        word_shares=list(edits.values_list("word_share", flat=True)),
    )
