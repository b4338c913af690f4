"""Freezing a snapshot: the accepted labels, filtered, split by prompt, copied as immutable canonical rows
and sealed with their hash. The one write of this room; reading a snapshot is curation.selectors."""

import functools
import hashlib
import heapq
import importlib.metadata
import json
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from core.errors import Conflict, DomainError
from core.types import User
from curation.cleaning.pii import scrub_pii
from curation.cleaning.selectors import cleaning_settings_get
from curation.models import (
    CleaningFilter,
    CleaningFlag,
    CleaningRun,
    DatasetSnapshot,
)
from curation.quality.consensus import DEFAULT_RULE, RULES, ConsensusRule, rule_described
from curation.quality.labelers import labelers_below
from curation.splits import SPLITS, PromptGroups, group_prompts, split_for
from labeling.edits import comparable, drafted_reply_index
from labeling.models import (
    RATING_FLAGS,
    Assignment,
    Candidate,
    CandidateRating,
    ChatTurn,
    Demonstration,
    Project,
    Prompt,
    Ranking,
    ReplyDraftEdit,
    Review,
    TaskKind,
)
from labeling.search import SEARCH_TOOL

ROW_FORMAT = 1
# A chat's conversation is a demonstration row (kind "chat"); each ranked turn a ranking row of its own.
DEMONSTRATION_KINDS = (TaskKind.DEMONSTRATION, TaskKind.REFUSAL, TaskKind.SEARCH, TaskKind.CHAT)
OnProgress = Callable[[int, int], None]  # (rows done, rows in all)


class Verdict:
    """Which reviewed work a snapshot takes. Rejected work never enters a snapshot."""

    ACCEPTED = "accepted"  # the latest review accepts or edits it (an edit counts with the edited revision)
    UNREVIEWED_ALLOWED = "unreviewed_allowed"  # accepted, or not reviewed yet
    CHOICES = (ACCEPTED, UNREVIEWED_ALLOWED)


class SnapshotEmpty(DomainError):
    code = "snapshot_empty"


@dataclass(frozen=True)
class SnapshotFilters:
    kinds: list[str]
    verdict: str = Verdict.ACCEPTED
    submitted_after: datetime | None = None
    submitted_before: datetime | None = None
    guideline_versions: list[int] | None = None
    labelers: list[str] | None = None
    min_labeler_score: float | None = None  # leave out the work of labelers scored below it

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("submitted_after", "submitted_before"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


@dataclass
class _Tally:
    """What the manifest says about the rows, gathered while they stream past."""

    rows: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    by_kind: Counter = field(default_factory=Counter)
    by_split: Counter = field(default_factory=Counter)
    prompts: set[int] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    labelers: set[str] = field(default_factory=set)
    guideline_versions: Counter = field(default_factory=Counter)
    source_ids: dict[str, list[int]] = field(default_factory=lambda: {"ranking": [], "demonstration": []})

    def add(self, row: dict[str, Any], canonical: str) -> None:
        self.rows += 1
        self.digest.update(canonical.encode())
        self.digest.update(b"\n")
        self.by_kind[row["kind"]] += 1
        self.by_split[row["split"]] += 1
        self.prompts.add(row["prompt_id"])
        self.groups.add(row["prompt_group"])
        self.labelers.add(row["labeler"])
        version = row["guideline_version"]
        self.guideline_versions["none" if version is None else str(version)] += 1
        table = "ranking" if row["kind"] == TaskKind.RANKING else "demonstration"
        self.source_ids[table].append(row["annotation_id"])


@functools.cache
def code_version() -> str:
    """`git describe` of the running code when it is a checkout, else the installed package version."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if described.returncode == 0 and described.stdout.strip():
            return f"git {described.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"coach {importlib.metadata.version('coach')}"
    except importlib.metadata.PackageNotFoundError:
        return "coach unknown"


def canonical_json(row: dict[str, Any]) -> str:
    """Sorted keys, no spaces, UTF-8 as is: the bytes a snapshot row is hashed and exported as."""
    try:
        return orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # an integer beyond 64 bits, which only the standard library writes
        return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@transaction.atomic
def snapshot_freeze(
    *,
    project: Project,
    name: str,
    created_by: User | None = None,
    kinds: list[str] | None = None,
    verdict: str = Verdict.ACCEPTED,
    submitted_after: datetime | None = None,
    submitted_before: datetime | None = None,
    guideline_versions: list[int] | None = None,
    labelers: list[str] | None = None,
    min_labeler_score: float | None = None,
    seed: int = 0,
    validation_fraction: float = 0.1,
    cleaning: list[str] | None = None,
    consensus_rule: ConsensusRule = DEFAULT_RULE,
    on_progress: OnProgress | None = None,
) -> DatasetSnapshot:
    """Freeze the current revision of every selected annotation into immutable rows and a manifest.

    `cleaning` names the cleaning filters whose flags apply (all by default): rows of flagged prompts
    and flagged demonstrations are left out, except that PII flags scrub the text instead.
    `consensus_rule` is the rule the snapshot's consensus exports use, recorded in the manifest.
    """
    name = name.strip()
    if not name:
        raise DomainError("give the snapshot a name", field="name")
    filters = SnapshotFilters(
        kinds=_checked_kinds(project, kinds),
        verdict=verdict,
        submitted_after=submitted_after,
        submitted_before=submitted_before,
        guideline_versions=sorted(set(guideline_versions)) if guideline_versions else None,
        labelers=sorted(set(labelers)) if labelers else None,
        min_labeler_score=min_labeler_score,
    )
    if min_labeler_score is not None and not 0 <= min_labeler_score <= 1:
        raise DomainError("min_labeler_score is a score between 0 and 1", field="min_labeler_score")
    if verdict not in Verdict.CHOICES:
        raise DomainError(f"verdict must be one of {list(Verdict.CHOICES)}", field="verdict")
    if not 0 <= validation_fraction < 1:
        raise DomainError("validation_fraction must be at least 0 and below 1", field="validation_fraction")
    if consensus_rule not in RULES:
        raise DomainError(f"consensus_rule must be one of {list(RULES)}", field="consensus_rule")
    if DatasetSnapshot.objects.filter(project=project, name=name).exists():
        raise Conflict(f"project {project.name!r} already has a snapshot named {name!r}", field="name")

    applied = _checked_cleaning(cleaning)
    low_scorers = _low_scorers(project, min_labeler_score)
    rankings, demonstrations = annotations_selected(project, filters, low_scorers)
    rankings, demonstrations, removed = _without_flagged(rankings, demonstrations, applied)
    turns, removed_turns = _chat_turns_without_flagged(
        chat_rankings_selected(project, filters, low_scorers), applied
    )
    for name, count in removed_turns.items():
        removed[name] = removed.get(name, 0) + count
    total = rankings.count() + demonstrations.count() + turns.count()
    if total == 0:
        raise SnapshotEmpty(
            "the selection matches no annotations: check the kinds, the verdict filter, the dates, "
            "the guideline versions and the labelers",
            extra={"filters": filters.as_json()},
        )
    splitting = _Splitting.for_selection(project, rankings, demonstrations, turns, seed, validation_fraction)
    snapshot = DatasetSnapshot.objects.create(
        project=project, name=name, manifest={}, row_count=0, sha256="", created_by=created_by
    )
    rows: Iterator[dict[str, Any]] = heapq.merge(
        _ranking_rows(rankings, splitting),
        _demonstration_rows(demonstrations, splitting),
        _chat_ranking_rows(turns, splitting),
        key=lambda row: (row["prompt_id"], row["task_id"], row["assignment_id"]),
    )
    scrubbing = _PiiScrubbing.for_project(project) if CleaningFilter.PII in applied else None
    if scrubbing:
        rows = (scrubbing.scrub(row) for row in rows)
    tally = _Tally()
    for batch in _batches(rows, 1000):
        _copy_rows(snapshot.pk, tally, batch)
        if on_progress:
            on_progress(tally.rows, total)

    sha256 = tally.digest.hexdigest()
    snapshot.manifest = {
        "row_format": ROW_FORMAT,
        "snapshot": name,
        "project": {"id": project.pk, "name": project.name},
        "filters": filters.as_json(),
        "split": splitting.manifest(),
        "counts": {
            "rows": tally.rows,
            "by_kind": dict(sorted(tally.by_kind.items())),
            "by_split": {split: tally.by_split.get(split, 0) for split in SPLITS},
            "prompts": len(tally.prompts),
            "prompt_groups": len(tally.groups),
            "labelers": len(tally.labelers),
        },
        "cleaning": _cleaning_manifest(project, applied, removed, scrubbing),
        "consensus": rule_described(consensus_rule),
        "labelers_left_out": sorted(low_scorers.values()),
        "guideline_versions": dict(sorted(tally.guideline_versions.items())),
        "source_annotation_ids": {table: sorted(ids) for table, ids in tally.source_ids.items()},
        "code_version": code_version(),
        "sha256": sha256,
    }
    snapshot.row_count = tally.rows
    snapshot.sha256 = sha256
    # The one UPDATE a snapshot ever gets: sealing it (the trigger refuses any once sha256 is set).
    snapshot.save(update_fields=["manifest", "row_count", "sha256"])
    return snapshot


def snapshot_consensus_rule(snapshot: DatasetSnapshot) -> ConsensusRule | None:
    """The rule of the snapshot's consensus exports, as its manifest names it.

    None for a snapshot frozen before manifests named one: its consensus is the mean rank, and its
    exports stay byte for byte as they were.
    """
    if "consensus" not in snapshot.manifest:
        return None
    rule = snapshot.manifest["consensus"].get("rule")
    if rule not in RULES:
        raise DomainError(
            f"snapshot {snapshot.pk} names an unknown consensus rule {rule!r}", field="snapshot"
        )
    return rule


def _checked_cleaning(cleaning: list[str] | None) -> list[str]:
    chosen = CleaningFilter.values if cleaning is None else list(dict.fromkeys(cleaning))
    if unknown := sorted(set(chosen) - set(CleaningFilter.values)):
        raise DomainError(f"unknown cleaning filters {unknown}", field="cleaning")
    return [f for f in CleaningFilter.values if f in chosen]


def _without_flagged(
    rankings: QuerySet, demonstrations: QuerySet, applied: list[str]
) -> tuple[QuerySet, QuerySet, dict[str, int]]:
    """The selection less the rows whose prompt or demonstration a removing filter flagged.

    Each filter's count is the rows it flags in the selection, so a row two filters flag counts twice.
    """
    removed: dict[str, int] = {}
    for name in applied:
        if name == CleaningFilter.PII:
            continue  # scrubbed, not removed
        flags = CleaningFlag.objects.filter(filter=name)
        prompt_flagged = Exists(flags.filter(prompt_id=OuterRef("task__prompt_id")))
        demonstration_flagged = Exists(flags.filter(demonstration_id=OuterRef("id")))
        removed[name] = (
            rankings.filter(prompt_flagged).count()
            + demonstrations.filter(prompt_flagged | demonstration_flagged).count()
        )
        if removed[name]:
            rankings = rankings.exclude(prompt_flagged)
            demonstrations = demonstrations.exclude(prompt_flagged | demonstration_flagged)
    return rankings, demonstrations, removed


@dataclass
class _PiiScrubbing:
    """Replaces personal data with placeholders in the rows of PII-flagged prompts and demonstrations."""

    prompt_ids: set[int]
    demonstration_ids: set[int]
    phone_region: str
    rows: int = 0

    @classmethod
    def for_project(cls, project: Project) -> "_PiiScrubbing":
        flags = CleaningFlag.objects.filter(project=project, filter=CleaningFilter.PII)
        region = project.cleaning_settings.phone_region if hasattr(project, "cleaning_settings") else "US"
        return cls(
            prompt_ids=set(flags.exclude(prompt=None).values_list("prompt_id", flat=True)),
            demonstration_ids=set(
                flags.exclude(demonstration=None).values_list("demonstration_id", flat=True)
            ),
            phone_region=region,
        )

    def scrub(self, row: dict[str, Any]) -> dict[str, Any]:
        scrubbed = False
        if row["prompt_id"] in self.prompt_ids:
            row["prompt"] = self._messages(row["prompt"])
            scrubbed = True
        if row["kind"] != TaskKind.RANKING and row["annotation_id"] in self.demonstration_ids:
            row["messages"] = self._messages(row["messages"])
            scrubbed = True
        if scrubbed and "model_draft" in row:  # written from the prompt, it may repeat what is scrubbed
            draft = row["model_draft"]
            row["model_draft"] = draft | {"text": scrub_pii(draft["text"], phone_region=self.phone_region)}
        self.rows += scrubbed
        return row

    def _messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            m | {"content": scrub_pii(m["content"], phone_region=self.phone_region)}
            if isinstance(m.get("content"), str)
            else m
            for m in messages
        ]


def _cleaning_manifest(
    project: Project, applied: list[str], removed: dict[str, int], scrubbing: _PiiScrubbing | None
) -> dict[str, Any]:
    runs = CleaningRun.objects.filter(project=project).order_by("id").values_list("id", "filters")
    last_run = {name: run_id for run_id, filters in runs for name in filters}
    return {
        "applied": applied,
        "rows_removed": {name: removed.get(name, 0) for name in applied if name != CleaningFilter.PII},
        "rows_scrubbed_pii": scrubbing.rows if scrubbing else 0,
        "cleaning_runs": {name: last_run.get(name) for name in applied},
    }


def _checked_kinds(project: Project, kinds: list[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(kinds or project.task_kinds))
    if unknown := sorted(set(chosen) - set(TaskKind.values)):
        raise DomainError(f"unknown task kinds {unknown}", field="kinds")
    return sorted(chosen)


def _low_scorers(project: Project, min_score: float | None) -> dict[int, str]:
    """Labeler id → username of those whose score is under the minimum (none without a minimum)."""
    if min_score is None:
        return {}
    below = labelers_below(project=project, min_score=min_score)
    return dict(get_user_model().objects.filter(pk__in=below).values_list("pk", "username"))


def _selected(
    project: Project, filters: SnapshotFilters, low_scorers: dict[int, str]
) -> tuple[Q, Subquery, Q]:
    """What every selected annotation passes: the project, submitted, current, the filters; and the
    latest verdict with the condition it must meet."""
    latest_verdict = (
        Review.objects.filter(assignment=OuterRef("assignment_id"))
        .order_by("-created_at", "-id")
        .values("verdict")
    )
    accepted = Q(verdict__in=[Review.Verdict.ACCEPT, Review.Verdict.EDIT])
    verdict_ok = accepted if filters.verdict == Verdict.ACCEPTED else accepted | Q(verdict__isnull=True)
    selected = Q(task__project=project, is_current=True, assignment__state=Assignment.State.SUBMITTED)
    if filters.submitted_after:
        selected &= Q(assignment__submitted_at__gte=filters.submitted_after)
    if filters.submitted_before:
        selected &= Q(assignment__submitted_at__lt=filters.submitted_before)
    if filters.guideline_versions:
        selected &= Q(guideline_version__number__in=filters.guideline_versions)
    if filters.labelers:
        selected &= Q(assignment__labeler__username__in=filters.labelers)
    if low_scorers:
        selected &= ~Q(assignment__labeler_id__in=list(low_scorers))
    return selected, Subquery(latest_verdict[:1]), verdict_ok


COMMON = [
    "id",
    "assignment_id",
    "task_id",
    "task__kind",
    "task__prompt_id",
    "task__prompt__external_id",
    "task__prompt__messages",
    "revision",
    "seconds",
    "assignment__labeler__username",
    "author__username",
    "guideline_version__number",
    "assignment__submitted_at",
    "verdict",
]


def annotations_selected(
    project: Project, filters: SnapshotFilters, low_scorers: dict[int, str]
) -> tuple[QuerySet, QuerySet]:
    """Current revisions of submitted work that pass the filters, ordered by prompt, task, assignment.
    (The rankings of chat turns are `chat_rankings_selected`.)"""
    selected, verdict, verdict_ok = _selected(project, filters, low_scorers)
    order = ("task__prompt_id", "task_id", "assignment_id")
    rankings = (
        Ranking.objects.filter(
            selected,
            chat_turn__isnull=True,
            task__kind__in=[k for k in filters.kinds if k == TaskKind.RANKING],
        )
        .annotate(verdict=verdict)
        .filter(verdict_ok)
        .order_by(*order)
        .values(*COMMON, "task__candidate_ids", "tiers", "all_bad")
    )
    demonstrations = (
        Demonstration.objects.filter(
            selected, task__kind__in=[k for k in filters.kinds if k in DEMONSTRATION_KINDS]
        )
        .annotate(verdict=verdict)
        .filter(verdict_ok)
        .order_by(*order)
        .values(*COMMON, "messages", "tools")
    )
    return rankings, demonstrations


def chat_rankings_selected(
    project: Project, filters: SnapshotFilters, low_scorers: dict[int, str]
) -> QuerySet:
    """The current rankings of the turns of submitted chats that pass the filters (the chat's review
    decides, as for its conversation), ordered by their prefix prompt, task, assignment."""
    selected, verdict, verdict_ok = _selected(project, filters, low_scorers)
    kinds = [k for k in filters.kinds if k == TaskKind.CHAT]
    return (
        Ranking.objects.filter(selected, chat_turn__isnull=False, task__kind__in=kinds)
        .annotate(verdict=verdict)
        .filter(verdict_ok)
        .order_by("chat_turn__prompt_id", "task_id", "assignment_id")
        .values(
            *COMMON,
            "tiers",
            "all_bad",
            "chat_turn_id",
            "chat_turn__turn",
            "chat_turn__final_index",
            "chat_turn__prompt_id",
            "chat_turn__prompt__messages",
            "chat_turn__candidate_ids",
        )
    )


def _chat_turns_without_flagged(turns: QuerySet, applied: list[str]) -> tuple[QuerySet, dict[str, int]]:
    """Chat-turn rankings less those whose prefix, or whose conversation's opening, a removing filter
    flagged (a duplicate opening takes its whole conversation with it)."""
    removed: dict[str, int] = {}
    for name in applied:
        if name == CleaningFilter.PII:
            continue
        flags = CleaningFlag.objects.filter(filter=name)
        flagged = Exists(flags.filter(prompt_id=OuterRef("chat_turn__prompt_id"))) | Exists(
            flags.filter(prompt_id=OuterRef("task__prompt_id"))
        )
        if count := turns.filter(flagged).count():
            removed[name] = count
            turns = turns.exclude(flagged)
    return turns, removed


@dataclass(frozen=True)
class _Splitting:
    """Which split a prompt's rows go to: by prompt group, so no prompt or near copy is in both."""

    seed: int
    validation_fraction: float
    groups: PromptGroups

    @classmethod
    def for_selection(
        cls,
        project: Project,
        rankings: QuerySet,
        demonstrations: QuerySet,
        turns: QuerySet,
        seed: int,
        validation_fraction: float,
    ) -> "_Splitting":
        """Group the selected prompts, near copies included, whether or not a cleaning run clustered them.
        A chat's prefixes take the group of its opening prompt: one conversation, one split."""
        threshold = cleaning_settings_get(project=project).near_duplicate_threshold
        selected = (
            Q(pk__in=rankings.values("task__prompt_id"))
            | Q(pk__in=demonstrations.values("task__prompt_id"))
            | Q(pk__in=turns.values("task__prompt_id"))
        )
        prompts = Prompt.objects.filter(selected).order_by("pk").values_list("pk", "messages")
        groups = group_prompts(prompts.iterator(chunk_size=2000), threshold=threshold)
        opening_of = dict(
            ChatTurn.objects.filter(pk__in=turns.values("chat_turn_id")).values_list(
                "prompt_id", "assignment__task__prompt_id"
            )
        )
        for prefix, opening in opening_of.items():
            groups.group_of[prefix] = groups.group_of[opening]
        return cls(seed, validation_fraction, groups)

    def group(self, prompt_id: int) -> str:
        return self.groups.group_of[prompt_id]

    def split(self, group: str) -> str:
        return split_for(group, seed=self.seed, validation_fraction=self.validation_fraction)

    def manifest(self) -> dict[str, Any]:
        groups = self.groups
        return {
            "by": "prompt group: the normalized prompt text (casefolded, punctuation and whitespace "
            "collapsed), with the near copies among the selected prompts together",
            "near_copies": {
                "found_by": "exact copies, then MinHash LSH over word n-grams of the prompt text, "
                "each pair confirmed on its true Jaccard similarity",
                "threshold": groups.threshold,
                "ngram": groups.ngram,
                "clusters": groups.clusters,
                "largest_cluster": groups.largest_cluster,
            },
            "prompts_in_duplicate_clusters": groups.prompts_in_clusters,
            "seed": self.seed,
            "validation_fraction": self.validation_fraction,
        }


def _common_row(record: dict[str, Any], splitting: _Splitting) -> dict[str, Any]:
    prompt = record["task__prompt__messages"]
    group = splitting.group(record["task__prompt_id"])
    labeler = record["assignment__labeler__username"]
    submitted = record["assignment__submitted_at"]
    return {
        "kind": record["task__kind"],
        "split": splitting.split(group),
        "prompt_id": record["task__prompt_id"],
        "prompt_external_id": record["task__prompt__external_id"],
        "prompt_group": group,
        "prompt": prompt,
        "task_id": record["task_id"],
        "assignment_id": record["assignment_id"],
        "annotation_id": record["id"],
        "revision": record["revision"],
        "labeler": labeler,
        "edited_by": record["author__username"] if record["author__username"] != labeler else None,
        "verdict": record["verdict"],
        "guideline_version": record["guideline_version__number"],
        "submitted_at": submitted.isoformat() if submitted else None,
        "seconds": round(float(record["seconds"]), 3),
    }


def _ranking_rows(rankings: QuerySet, splitting: _Splitting) -> Iterator[dict[str, Any]]:
    for chunk in _batches(rankings.iterator(chunk_size=1000), 1000):
        yield from _ranking_rows_of(chunk, splitting)


def _ranking_rows_of(chunk: list[dict[str, Any]], splitting: _Splitting) -> Iterator[dict[str, Any]]:
    candidate_ids = {cid for record in chunk for cid in record["task__candidate_ids"]}
    with connection.cursor() as cursor:  # one array literal, not 9,000 parameters (K x 1,000 ids)
        cursor.execute(
            f"SELECT id, text, model_name FROM {Candidate._meta.db_table} WHERE id = ANY(%s::bigint[])",
            ["{" + ",".join(map(str, candidate_ids)) + "}"],
        )
        candidates = {pk: {"id": pk, "text": text, "model": model} for pk, text, model in cursor.fetchall()}
    ratings: dict[int, list[dict[str, Any]]] = {}
    for rating in (
        CandidateRating.objects.filter(ranking_id__in=[r["id"] for r in chunk])
        .order_by("ranking_id", "candidate_id")
        .values("ranking_id", "candidate_id", "overall", *RATING_FLAGS)
    ):
        ranking_id = rating.pop("ranking_id")
        rating["candidate"] = rating.pop("candidate_id")
        ratings.setdefault(ranking_id, []).append(rating)
    for record in chunk:
        yield _common_row(record, splitting) | {
            "candidates": [candidates[cid] for cid in record["task__candidate_ids"]],
            "tiers": record["tiers"],
            "all_bad": record["all_bad"],
            "ratings": ratings.get(record["id"], []),
        }


def _demonstration_rows(demonstrations: QuerySet, splitting: _Splitting) -> Iterator[dict[str, Any]]:
    for chunk in _batches(demonstrations.iterator(chunk_size=1000), 1000):
        drafts = _model_drafts([record["assignment_id"] for record in chunk])
        chats = [record["assignment_id"] for record in chunk if record["task__kind"] == TaskKind.CHAT]
        chat_turns = _chat_turns_of(chats) if chats else {}
        for record in chunk:
            row = _common_row(record, splitting) | {
                "messages": record["messages"],
                "tools": record["tools"] or [],
            }
            if record["task__kind"] == TaskKind.CHAT:
                row["chat_turns"] = chat_turns.get(record["assignment_id"], [])
            if (draft := drafts.get(record["assignment_id"])) is not None:
                chat = record["task__kind"] == TaskKind.CHAT
                reply = record["messages"][drafted_reply_index(record["messages"], chat=chat)]
                row["model_draft"] = _model_draft_field(draft, reply)
            yield row


def _chat_ranking_rows(turns: QuerySet, splitting: _Splitting) -> Iterator[dict[str, Any]]:
    """A ranked chat turn as a ranking row: its prompt is the conversation prefix, its candidates carry
    the model version and sampling parameters that wrote them, and `chat_turn` says where it stands."""

    def as_ranking(record: dict[str, Any]) -> dict[str, Any]:
        return record | {
            "task__kind": TaskKind.RANKING,
            "task__prompt_id": record["chat_turn__prompt_id"],
            "task__prompt__external_id": "",
            "task__prompt__messages": record["chat_turn__prompt__messages"],
            "task__candidate_ids": record["chat_turn__candidate_ids"],
        }

    records = (as_ranking(record) for record in turns.iterator(chunk_size=1000))
    for chunk in _batches(records, 1000):
        ids = {cid for record in chunk for cid in record["task__candidate_ids"]}
        lineage = {
            pk: {"model_version_id": version, "sampling_params": params}
            for pk, version, params in Candidate.objects.filter(pk__in=ids).values_list(
                "pk", "model_version_id", "sampling_params"
            )
        }
        by_id = {record["id"]: record for record in chunk}
        for row in _ranking_rows_of(chunk, splitting):
            record = by_id[row["annotation_id"]]
            row["candidates"] = [c | lineage[c["id"]] for c in row["candidates"]]
            if any(m.get("role") == "tool" for m in row["prompt"]):
                row["tools"] = [SEARCH_TOOL]
            row["chat_turn"] = {
                "id": record["chat_turn_id"],
                "turn": record["chat_turn__turn"],
                "index_in_conversation": record["chat_turn__final_index"],
            }
            yield row


def _chat_turns_of(assignment_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The model-written turns that stand in each submitted chat: where, by which model version, how
    sampled, whether the labeler edited the reply."""
    found: dict[int, list[dict[str, Any]]] = {}
    turns = (
        ChatTurn.objects.filter(assignment_id__in=assignment_ids, final_index__isnull=False)
        .order_by("assignment_id", "final_index")
        .values(
            "assignment_id",
            "final_index",
            "final_text",
            "chosen__text",
            "chosen__model_version_id",
            "chosen__model_name",
            "chosen__sampling_params",
            "candidate_ids",
        )
    )
    for turn in turns:
        found.setdefault(turn["assignment_id"], []).append(
            {
                "index": turn["final_index"],
                "model": turn["chosen__model_name"],
                "model_version_id": turn["chosen__model_version_id"],
                "sampling_params": turn["chosen__sampling_params"],
                "replies": len(turn["candidate_ids"]),
                "edited": turn["final_text"] != turn["chosen__text"],
            }
        )
    return found


def _model_drafts(assignment_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The model draft each of these assignments' replies started from, by assignment."""
    return {
        edit["demonstration__assignment_id"]: dict(edit)
        for edit in ReplyDraftEdit.objects.filter(demonstration__assignment_id__in=assignment_ids).values(
            "demonstration__assignment_id",
            "reply_draft__text",
            "reply_draft__model_version_id",
            "reply_draft__model_version__name",
        )
    }


def _model_draft_field(edit: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    """A row's `model_draft` (only on rows whose reply started from one, so other rows keep their bytes):
    the draft, its model version, and whether the reply as it stands now (a reviewer's edit included) is
    still the draft word for word."""
    text = edit["reply_draft__text"]
    return {
        "text": text,
        "model": edit["reply_draft__model_version__name"],
        "model_version_id": edit["reply_draft__model_version_id"],
        "unchanged": comparable(reply.get("content") or "") == comparable(text),
    }


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


_COPY_ROWS = (
    "COPY curation_snapshotrow "
    "(snapshot_id, position, kind, split, prompt_id, prompt_group, annotation_id, data) FROM STDIN"
)


def _copy_rows(snapshot_id: int, tally: _Tally, batch: list[dict[str, Any]]) -> None:
    with connection.cursor() as cursor, cursor.copy(_COPY_ROWS) as copy:
        for row in batch:
            canonical = canonical_json(row)
            copy.write_row(
                (
                    snapshot_id,
                    tally.rows,
                    row["kind"],
                    row["split"],
                    row["prompt_id"],
                    row["prompt_group"],
                    row["annotation_id"],
                    canonical,
                )
            )
            tally.add(row, canonical)


# --- snapshots of model answers (best-of-N) --------------------------------------------------------------


@transaction.atomic
def snapshot_freeze_model_answers(
    *,
    project: Project,
    name: str,
    answers: list[dict[str, Any]],
    source: dict[str, Any],
    created_by: User | None = None,
    seed: int = 0,
    validation_fraction: float = 0.1,
) -> DatasetSnapshot:
    """Freeze model-written answers as SFT rows: one demonstration row per answer, split by prompt group
    like every snapshot, hashed and sealed; `source` (the job, the models, their settings) goes into the
    manifest. Each answer: {"prompt_id", "sample_id", "text", "model", **what the row records beside}."""
    name = name.strip()
    if not name:
        raise DomainError("give the snapshot a name", field="snapshot_name")
    if not 0 <= validation_fraction < 1:
        raise DomainError("validation_fraction must be at least 0 and below 1", field="validation_fraction")
    if DatasetSnapshot.objects.filter(project=project, name=name).exists():
        raise Conflict(
            f"project {project.name!r} already has a snapshot named {name!r}", field="snapshot_name"
        )
    if not answers:
        raise SnapshotEmpty("there is no answer to freeze", field="answers")
    prompts = dict(
        Prompt.objects.filter(project=project, pk__in=[a["prompt_id"] for a in answers]).values_list(
            "pk", "messages"
        )
    )
    threshold = cleaning_settings_get(project=project).near_duplicate_threshold
    groups = group_prompts(sorted(prompts.items()), threshold=threshold)
    splitting = _Splitting(seed, validation_fraction, groups)
    snapshot = DatasetSnapshot.objects.create(
        project=project, name=name, manifest={}, row_count=0, sha256="", created_by=created_by
    )
    rows = []
    for answer in sorted(answers, key=lambda a: (a["prompt_id"], a["sample_id"])):
        extra = {k: v for k, v in answer.items() if k not in ("prompt_id", "sample_id", "text", "model")}
        group = splitting.group(answer["prompt_id"])
        prompt = prompts[answer["prompt_id"]]
        rows.append(
            {
                "kind": TaskKind.DEMONSTRATION,
                "split": splitting.split(group),
                "prompt_id": answer["prompt_id"],
                "prompt_group": group,
                "prompt": prompt,
                "messages": [*prompt, {"role": "assistant", "content": answer["text"]}],
                "tools": [],
                "annotation_id": answer["sample_id"],
                "labeler": answer["model"],  # the model that wrote it
                "guideline_version": None,
                **extra,
            }
        )
    tally = _Tally()
    for batch in _batches(rows, 1000):
        _copy_rows(snapshot.pk, tally, batch)
    sha256 = tally.digest.hexdigest()
    snapshot.manifest = {
        "row_format": ROW_FORMAT,
        "snapshot": name,
        "project": {"id": project.pk, "name": project.name},
        "source": source,
        "split": splitting.manifest(),
        "counts": {
            "rows": tally.rows,
            "by_kind": dict(sorted(tally.by_kind.items())),
            "by_split": {split: tally.by_split.get(split, 0) for split in SPLITS},
            "prompts": len(tally.prompts),
            "prompt_groups": len(tally.groups),
        },
        "code_version": code_version(),
        "sha256": sha256,
    }
    snapshot.row_count = tally.rows
    snapshot.sha256 = sha256
    snapshot.save(update_fields=["manifest", "row_count", "sha256"])  # sealing it, as snapshot_freeze does
    return snapshot
