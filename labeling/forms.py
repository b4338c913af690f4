"""Web forms: they parse what the browser sends. The rules of the domain stay in the services."""

import string
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.http import QueryDict

from core.forms import upload_within_limit
from labeling.models import RATING_FLAGS, Candidate, Role, TaskKind, VoteChoice

# InstructGPT's per-answer labels; "satisfies constraints" may also be left unanswered.
FLAG_LABELS = {
    "fails_to_follow_instruction": "Fails to follow the instruction",
    "hallucination": "Hallucination",
    "inappropriate_for_customer_assistant": "Inappropriate for a customer assistant",
    "sexual_content": "Sexual content",
    "violent_content": "Violent content",
    "harmful_advice": "Harmful advice",
    "expresses_opinion": "Expresses an opinion",
    "expresses_moral_judgement": "Expresses a moral judgement",
}
BOOLEAN_FLAGS = [f for f in RATING_FLAGS if f != "satisfies_constraints"]
OVERALL = range(1, 8)


def letter(index: int) -> str:
    return string.ascii_uppercase[index]


class RankingForm(forms.Form):
    """A tier per candidate (same number = tie), its 1–7 rating and flags, or 'all answers are bad'."""

    all_bad = forms.BooleanField(required=False)
    seconds = forms.FloatField(required=False, min_value=0)

    def __init__(
        self, *args: Any, candidates: list[Candidate], tiers: int, partial: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.candidates = candidates
        self.partial = partial  # a draft: answers may still be unplaced
        tier_choices = [("", "–")] + [(str(n), str(n)) for n in range(1, tiers + 1)]
        for c in candidates:
            self.fields[f"tier-{c.pk}"] = forms.TypedChoiceField(
                choices=tier_choices, coerce=int, empty_value=None, required=False
            )
            self.fields[f"overall-{c.pk}"] = forms.TypedChoiceField(
                choices=[(str(n), str(n)) for n in OVERALL], coerce=int, empty_value=None, required=False
            )
            for flag in BOOLEAN_FLAGS:
                self.fields[f"{flag}-{c.pk}"] = forms.BooleanField(required=False)
            self.fields[f"satisfies_constraints-{c.pk}"] = forms.TypedChoiceField(
                choices=[("", "–"), ("yes", "yes"), ("no", "no")],
                coerce=lambda v: v == "yes",
                empty_value=None,
                required=False,
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        placed = [c for c in self.candidates if data.get(f"tier-{c.pk}") is not None]
        if self.partial or (data.get("all_bad") and not placed):
            return data
        if len(placed) != len(self.candidates):
            missing = [letter(i) for i, c in enumerate(self.candidates) if c not in placed]
            raise forms.ValidationError(
                f"Put every answer in a tier; not placed: {', '.join(missing)}.", code="unplaced"
            )
        return data

    def placement(self) -> dict[int, int]:
        """The board as it stands: {candidate id: tier number} for the answers placed so far."""
        tiers = {c.pk: self.cleaned_data.get(f"tier-{c.pk}") for c in self.candidates}
        return {pk: tier for pk, tier in tiers.items() if tier is not None}

    def ranking(self) -> dict[str, Any]:
        """What a ranking service takes from the form: tiers, ratings, all_bad and seconds."""
        return {
            "tiers": self.tiers(),
            "ratings": self.ratings(),
            "all_bad": self.cleaned_data["all_bad"],
            "seconds": self.cleaned_data["seconds"] or 0.0,
        }

    def tiers(self) -> list[list[int]]:
        """Candidate ids grouped by tier number, best first; empty tier numbers are skipped."""
        by_tier: dict[int, list[int]] = {}
        for c in self.candidates:
            tier = self.cleaned_data.get(f"tier-{c.pk}")
            if tier is not None:
                by_tier.setdefault(tier, []).append(c.pk)
        return [by_tier[n] for n in sorted(by_tier)]

    def ratings(self) -> list[dict[str, Any]]:
        """A rating for every candidate that got a score or a flag."""
        rows = []
        for c in self.candidates:
            row: dict[str, Any] = {"candidate": c.pk}
            if (overall := self.cleaned_data.get(f"overall-{c.pk}")) is not None:
                row["overall"] = overall
            for flag in BOOLEAN_FLAGS:
                if self.cleaned_data.get(f"{flag}-{c.pk}"):
                    row[flag] = True
            if (satisfies := self.cleaned_data.get(f"satisfies_constraints-{c.pk}")) is not None:
                row["satisfies_constraints"] = satisfies
            if len(row) > 1:
                rows.append(row)
        return rows


def ranking_form_data(
    *, placement: dict[int, int], ratings: list[dict[str, Any]], all_bad: bool, seconds: float
) -> dict[str, str]:
    """A saved ranking (a draft or a submitted revision) as the fields the ranking form posts."""
    data = {f"tier-{pk}": str(tier) for pk, tier in placement.items()}
    for rating in ratings:
        pk = rating["candidate"]
        if rating.get("overall") is not None:
            data[f"overall-{pk}"] = str(rating["overall"])
        data |= {f"{flag}-{pk}": "on" for flag in BOOLEAN_FLAGS if rating.get(flag)}
        if (satisfies := rating.get("satisfies_constraints")) is not None:
            data[f"satisfies_constraints-{pk}"] = "yes" if satisfies else "no"
    if all_bad:
        data["all_bad"] = "on"
    data["seconds"] = str(round(seconds))
    return data


class ReviewQueueForm(forms.Form):
    """The review queue's filters, read from the query string; the task pages carry them on."""

    show = forms.ChoiceField(
        choices=[("pending", "Waiting for review"), ("all", "All submitted")], required=False
    )
    labeler = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    kind = forms.ChoiceField(required=False)
    agreement = forms.TypedChoiceField(
        choices=[
            ("", "any agreement"),
            ("75", "labelers agree on 75% of pairs or less"),
            ("50", "50% or less"),
            ("25", "25% or less"),
        ],
        coerce=int,
        empty_value=None,
        required=False,
    )
    since = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Submitted from"
    )
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="to")

    def __init__(self, *args: Any, labelers: list[tuple[int, str]], kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["labeler"]).choices = [("", "any labeler")] + [
            (str(pk), name) for pk, name in labelers
        ]
        labels = dict(TaskKind.choices)
        cast(forms.ChoiceField, self.fields["kind"]).choices = [("", "any kind")] + [
            (k, labels.get(k, k)) for k in kinds
        ]

    def query(self) -> str:
        """The filters as a query string, to carry them from page to page."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        kept = {
            name: value.isoformat() if hasattr(value, "isoformat") else value
            for name, value in data.items()
            if value not in (None, "")
        }
        return urlencode(kept)


class EvaluationForm(forms.Form):
    """A blind vote: the left answer, the right one, or a tie, with an optional reason. A draft may have
    no choice yet."""

    choice = forms.ChoiceField(
        choices=VoteChoice.choices,
        error_messages={
            "required": "Choose the better answer, or a tie.",
            "invalid_choice": "Choose A, B or a tie.",
        },
    )
    why = forms.CharField(max_length=2000, required=False, strip=False)  # the reason; "reason" is the skip's
    seconds = forms.FloatField(required=False, min_value=0)

    def __init__(self, *args: Any, partial: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["choice"].required = not partial


class SkipForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False)


class DemonstrationForm(forms.Form):
    """The reply being written; `pick` holds "search:document" pairs on search tasks."""

    content = forms.CharField(required=False, strip=False, max_length=100_000)
    seconds = forms.FloatField(required=False, min_value=0)
    pasted_chars = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    # the model draft the page filled in, when the project's model drafts are on
    model_draft = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def picks(self) -> list[list[int]]:
        pairs = []
        sent = self.data.getlist("pick") if isinstance(self.data, QueryDict) else []
        for value in sent:
            search_index, _, document_id = value.partition(":")
            if search_index.isdigit() and document_id.isdigit():
                pairs.append([int(search_index), int(document_id)])
        return pairs


class SearchForm(forms.Form):
    query = forms.CharField(max_length=300)


class ReviewForm(forms.Form):
    verdict = forms.ChoiceField(choices=[("accept", "accept"), ("reject", "reject"), ("edit", "edit")])
    reason = forms.CharField(max_length=2000, required=False)
    content = forms.CharField(required=False, strip=False, max_length=100_000)


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    task_kinds = forms.MultipleChoiceField(choices=TaskKind.choices, widget=forms.CheckboxSelectMultiple)
    k = forms.IntegerField(
        min_value=2, max_value=9, initial=4, label="K", help_text="candidates per ranking task (2–9)"
    )
    overlap = forms.IntegerField(min_value=1, max_value=2**15 - 1, initial=1, help_text="labelers per task")
    lease_seconds = forms.IntegerField(
        min_value=30, max_value=2**31 - 1, initial=1800, help_text="how long a task stays reserved"
    )


class ProjectSettingsForm(ProjectForm):
    allow_self_review = forms.BooleanField(
        required=False, help_text="let a reviewer accept or edit their own work (for a one-person team)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["name"]


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)


class ImportForm(forms.Form):
    what = forms.ChoiceField(choices=[("prompts", "Prompts"), ("candidates", "Candidates (model answers)")])
    file = forms.FileField(help_text=".jsonl or .csv", validators=[upload_within_limit])
    task_kind = forms.ChoiceField(
        choices=[("", "project default")] + list(TaskKind.choices),
        required=False,
        help_text="prompts only: the kind of task they become",
    )

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        """Only the task kinds the project allows are offered (and accepted)."""
        super().__init__(*args, **kwargs)
        labels = dict(TaskKind.choices)
        field = cast(forms.ChoiceField, self.fields["task_kind"])
        field.choices = [("", "project default")] + [(k, labels.get(k, k)) for k in kinds]


class CorpusForm(forms.Form):
    name = forms.CharField(max_length=200)
    file = forms.FileField(
        help_text='JSONL, one document per line: {"title", "url", "text"}', validators=[upload_within_limit]
    )


class ChatSettingsForm(forms.Form):
    """The model version a project's chats talk to, K, and the bounds on each call to it."""

    model_version: "forms.ModelChoiceField[Any]" = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="none: labelers write both roles"
    )
    k = forms.IntegerField(min_value=2, max_value=9, label="Replies ranked at a turn (K)")
    max_new_tokens = forms.IntegerField(min_value=1, max_value=4096, label="Most tokens in a reply")
    temperature = forms.FloatField(min_value=0, max_value=2)
    seconds_limit = forms.IntegerField(min_value=1, max_value=600, label="Seconds a call may take")
    calls_per_minute = forms.IntegerField(
        min_value=1, max_value=1000, label="Calls a labeler may make a minute"
    )

    def __init__(self, *args: Any, models: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["model_version"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = models
