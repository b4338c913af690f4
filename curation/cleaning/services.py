"""Cleaning runs: duplicates, quality, PII and contamination flags over a project's prompts and
demonstrations, each with a reason; nothing is deleted. Also the settings and evaluation sets they use."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count

from core.errors import Conflict, DomainError
from core.types import User
from curation.cleaning.decontam import DecontamConfig, EvalIndex
from curation.cleaning.minhash import DedupResult, KeepRule, MinHashConfig, deduplicate, normalized_text_hash
from curation.cleaning.pii import find_pii, scrub_spans
from curation.cleaning.selectors import (
    Document,
    cleaning_settings_get,
    demonstration_documents,
    message_text,
    prompt_documents,
    quality_thresholds_for,
)
from curation.cleaning.text_quality import QualityThresholds, quality_flags
from curation.models import (
    CleaningFilter,
    CleaningFlag,
    CleaningRun,
    CleaningSettings,
    CleaningTarget,
    DuplicateCluster,
    EvalItem,
    EvalSet,
)
from labeling.importing import LineError, read_jsonl
from labeling.models import ChatTurn, Demonstration, Project, Prompt

OnProgress = Callable[[str, int, int], None]  # (step, done, total)


MAX_EVAL_LINE_BYTES = 1024 * 1024


MAX_REPORTED_LINES = 100


EVAL_TEXT_KEYS = ("text", "prompt", "question")


class EvalSetRejected(DomainError):
    code = "eval_set_rejected"

    def __init__(self, detail: str, *, lines: list[tuple[int, str]]) -> None:
        shown = [{"line": line, "reason": reason} for line, reason in lines[:MAX_REPORTED_LINES]]
        super().__init__(detail, field="file", extra={"lines": shown, "total_errors": len(lines)})


@transaction.atomic
def cleaning_settings_update(
    *,
    project: Project,
    near_duplicate_threshold: float,
    keep_rule: str,
    quality_thresholds: dict[str, Any],
    decontam_long_ngram: int,
    decontam_short_ngram: int,
    decontam_short_text_words: int,
    phone_region: str,
) -> CleaningSettings:
    """Change a project's thresholds; they apply from the next cleaning run."""
    try:
        QualityThresholds.from_dict(quality_thresholds)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"quality thresholds: {exc}", field="quality_thresholds") from None
    try:
        DecontamConfig(decontam_long_ngram, decontam_short_ngram, decontam_short_text_words)
    except ValueError as exc:
        raise DomainError(str(exc), field="decontam_short_ngram") from None
    settings = cleaning_settings_get(project=project)
    settings.near_duplicate_threshold = near_duplicate_threshold
    settings.keep_rule = keep_rule
    settings.quality_thresholds = quality_thresholds
    settings.decontam_long_ngram = decontam_long_ngram
    settings.decontam_short_ngram = decontam_short_ngram
    settings.decontam_short_text_words = decontam_short_text_words
    settings.phone_region = phone_region.upper()
    try:
        settings.full_clean(exclude=["project"])
    except ValidationError as exc:
        name, problems = next(iter(exc.message_dict.items()))
        raise DomainError(f"{name}: {' '.join(problems)}", field=name) from None
    settings.save()
    return settings


def _settings_json(settings: CleaningSettings) -> dict[str, Any]:
    return {
        "near_duplicate_threshold": settings.near_duplicate_threshold,
        "ngram": MinHashConfig.ngram,
        "num_perm": MinHashConfig.num_perm,
        "keep_rule": settings.keep_rule,
        "quality_thresholds": quality_thresholds_for(settings).to_dict(),
        "decontam_long_ngram": settings.decontam_long_ngram,
        "decontam_short_ngram": settings.decontam_short_ngram,
        "decontam_short_text_words": settings.decontam_short_text_words,
        "phone_region": settings.phone_region,
    }


@transaction.atomic
def cleaning_run(
    *,
    project: Project,
    filters: Sequence[str] | None = None,
    created_by: User | None = None,
    on_progress: OnProgress | None = None,
) -> CleaningRun:
    """Run the chosen filters (all by default) over the project; their earlier flags are replaced.

    The exact and near duplicate filters always run together: they come from one clustering.
    """
    chosen = list(dict.fromkeys(filters or CleaningFilter.values))
    if unknown := sorted(set(chosen) - set(CleaningFilter.values)):
        raise DomainError(f"unknown filters {unknown}; choose from {CleaningFilter.values}", field="filters")
    duplicates: list[str] = [CleaningFilter.EXACT_DUPLICATE, CleaningFilter.NEAR_DUPLICATE]
    if set(duplicates) & set(chosen):  # one clustering makes both; rerunning half would orphan the rest
        chosen = list(dict.fromkeys(chosen + duplicates))
    Project.objects.select_for_update().filter(pk=project.pk).first()  # one run per project at a time
    settings = cleaning_settings_get(project=project)
    run = CleaningRun.objects.create(
        project=project, filters=chosen, thresholds=_settings_json(settings), created_by=created_by
    )
    CleaningFlag.objects.filter(project=project, filter__in=chosen).delete()
    if CleaningFilter.EXACT_DUPLICATE in chosen:
        DuplicateCluster.objects.filter(project=project).delete()

    progress = on_progress or (lambda step, done, total: None)
    targets = {
        CleaningTarget.PROMPT: prompt_documents(project),
        CleaningTarget.DEMONSTRATION: demonstration_documents(project),
    }
    flags: list[CleaningFlag] = []
    for target, documents in targets.items():
        if CleaningFilter.EXACT_DUPLICATE in chosen:
            progress(f"dedup {target}s", 0, len(documents))
            # A chat's conversation prefixes copy each other and its opening by construction: they go
            # with their conversation (its opening prompt is deduplicated), not against each other.
            prefixes = chat_prefix_ids(project) if target == CleaningTarget.PROMPT else set()
            deduplicated = [d for d in documents if d.id not in prefixes]
            flags += _duplicate_flags(run, target, deduplicated, settings, chosen)
            progress(f"dedup {target}s", len(documents), len(documents))
        if CleaningFilter.QUALITY in chosen:
            flags += _per_document(run, target, documents, _quality_flags(settings), "quality", progress)
        if CleaningFilter.PII in chosen:
            flags += _per_document(run, target, documents, _pii_flags(settings), "PII", progress)
    if CleaningFilter.CONTAMINATION in chosen:
        flags += _contamination_flags(run, targets[CleaningTarget.PROMPT], settings, progress)
    CleaningFlag.objects.bulk_create(flags, batch_size=2000)
    run.counts = _counts(run)
    run.save(update_fields=["counts"])
    return run


def chat_prefix_ids(project: Project) -> set[int]:
    """The prompts that are the prefixes of a chat task's conversation."""
    return set(ChatTurn.objects.filter(prompt__project=project).values_list("prompt_id", flat=True))


FlagMaker = Callable[[Document], Iterator[dict[str, Any]]]


def _flag(run: CleaningRun, target: str, document_id: int, **fields: Any) -> CleaningFlag:
    key = "prompt_id" if target == CleaningTarget.PROMPT else "demonstration_id"
    return CleaningFlag(project_id=run.project_id, run=run, **{key: document_id}, **fields)


def _per_document(
    run: CleaningRun,
    target: str,
    documents: list[Document],
    make: FlagMaker,
    step: str,
    progress: OnProgress,
) -> list[CleaningFlag]:
    flags = []
    for done, document in enumerate(documents, start=1):
        flags += [_flag(run, target, document.id, **fields) for fields in make(document)]
        if done % 500 == 0 or done == len(documents):
            progress(f"{step} {target}s", done, len(documents))
    return flags


def _quality_flags(settings: CleaningSettings) -> FlagMaker:
    thresholds = quality_thresholds_for(settings)

    def make(document: Document) -> Iterator[dict[str, Any]]:
        for found in quality_flags(document.text, thresholds):
            yield {
                "filter": CleaningFilter.QUALITY,
                "name": found.name,
                "explanation": found.explanation,
                "details": {"value": found.value, "threshold": found.threshold},
            }

    return make


def _pii_flags(settings: CleaningSettings) -> FlagMaker:
    def make(document: Document) -> Iterator[dict[str, Any]]:
        spans = find_pii(document.text, phone_region=settings.phone_region)
        if not spans:
            return
        kinds = sorted({str(span.kind) for span in spans})
        yield {
            "filter": CleaningFilter.PII,
            "name": ",".join(kinds),
            "explanation": f"contains {len(spans)} piece(s) of personal data ({', '.join(kinds)}); "
            "snapshots carry the text with each replaced by a placeholder",
            # The placements and the scrubbed text, never the personal data itself.
            "details": {
                "spans": [{"start": s.start, "end": s.end, "kind": str(s.kind)} for s in spans],
                "scrubbed": scrub_spans(document.text, spans),
            },
        }

    return make


def keep_rule(settings: CleaningSettings) -> KeepRule:
    """The settings' keep rule as the deduplicator names it (the choices are the same words)."""
    return "longest" if settings.keep_rule == "longest" else "first"


def _duplicate_flags(
    run: CleaningRun, target: str, documents: list[Document], settings: CleaningSettings, chosen: list[str]
) -> list[CleaningFlag]:
    config = MinHashConfig(threshold=settings.near_duplicate_threshold)
    result = deduplicate(
        [d.text for d in documents], ids=[d.id for d in documents], config=config, keep=keep_rule(settings)
    )
    texts = {d.id: d.text for d in documents}
    return _cluster_flags(run, target, result, texts, chosen)


def _cluster_flags(
    run: CleaningRun, target: str, result: DedupResult, texts: dict[int, str], chosen: list[str]
) -> list[CleaningFlag]:
    links: dict[int, list[tuple[int, int, float]]] = {}
    for pair in result.pairs:
        links.setdefault(int(pair.a), []).append((int(pair.a), int(pair.b), pair.jaccard))
    flags = []
    for found in result.clusters:
        members = sorted(int(m) for m in found.members)
        cluster = DuplicateCluster.objects.create(
            project_id=run.project_id,
            run=run,
            target=target,
            keep_rule=run.thresholds["keep_rule"],
            kept_id=int(found.kept),
            member_ids=members,
            pairs=[list(link) for m in members for link in links.get(m, [])],
        )
        flags += _duplicate_member_flags(run, cluster, texts, chosen)
    return flags


def _duplicate_member_flags(
    run: CleaningRun, cluster: DuplicateCluster, texts: dict[int, str], chosen: Sequence[str]
) -> list[CleaningFlag]:
    """A flag for each member but the kept one: an exact duplicate of it, or a near one."""
    similarity: dict[int, float] = {}
    for a, b, jaccard in cluster.pairs:
        similarity[a] = max(similarity.get(a, 0.0), jaccard)
        similarity[b] = max(similarity.get(b, 0.0), jaccard)
    kept_hash = normalized_text_hash(texts[cluster.kept_id])
    chosen_by = "chosen by an admin" if cluster.keep_rule == "admin" else f"by rule “{cluster.keep_rule}”"
    flags = []
    for member in cluster.member_ids:
        if member == cluster.kept_id:
            continue
        if normalized_text_hash(texts[member]) == kept_hash:
            kind = CleaningFilter.EXACT_DUPLICATE
            how = "the same text once case, punctuation and spacing are normalized"
        else:
            kind = CleaningFilter.NEAR_DUPLICATE
            how = f"word 5-gram Jaccard up to {similarity.get(member, 0.0):.2f} within the cluster"
        if kind not in chosen:
            continue
        explanation = (
            f"duplicate of {cluster.target} {cluster.kept_id} ({how}); "
            f"the cluster of {len(cluster.member_ids)} keeps {cluster.kept_id}, {chosen_by}"
        )
        flags.append(
            _flag(
                run,
                cluster.target,
                member,
                filter=kind,
                name=kind,
                explanation=explanation,
                details={"kept": cluster.kept_id, "jaccard": similarity.get(member)},
                cluster=cluster,
            )
        )
    return flags


def _member_texts(cluster: DuplicateCluster) -> dict[int, str]:
    if cluster.target == CleaningTarget.PROMPT:
        prompts = Prompt.objects.filter(pk__in=cluster.member_ids).values_list("id", "messages")
        return {pk: message_text(m, ("system", "user")) for pk, m in prompts}
    replies = Demonstration.objects.filter(pk__in=cluster.member_ids).values_list("id", "messages")
    return {pk: message_text(m, ("assistant",)) for pk, m in replies}


def _contamination_flags(
    run: CleaningRun, prompts: list[Document], settings: CleaningSettings, progress: OnProgress
) -> list[CleaningFlag]:
    items = list(
        EvalItem.objects.filter(eval_set__project_id=run.project_id)
        .select_related("eval_set")
        .order_by("eval_set_id", "line")
    )
    if not items:
        return []
    config = DecontamConfig(
        settings.decontam_long_ngram, settings.decontam_short_ngram, settings.decontam_short_text_words
    )
    index = EvalIndex([item.text for item in items], keys=list(range(len(items))), config=config)
    flags = []
    for done, prompt in enumerate(prompts, start=1):
        found = index.check(prompt.text)
        if found is not None:
            item = items[int(found.eval_key)]
            flags.append(
                _flag(
                    run,
                    CleaningTarget.PROMPT,
                    prompt.id,
                    filter=CleaningFilter.CONTAMINATION,
                    name=f"{found.ngram}-gram" if found.ngram else "whole_text",
                    explanation=f"{found.explanation} (eval set {item.eval_set.name}, line {item.line})",
                    details={
                        "eval_set": item.eval_set.name,
                        "eval_line": item.line,
                        "ngram": found.ngram,
                        "matched": found.matched,
                        "shared_ngrams": found.shared_ngrams,
                        "prompt_ngrams": found.text_ngrams,
                    },
                    eval_item=item,
                )
            )
        if done % 500 == 0 or done == len(prompts):
            progress("decontaminate prompts", done, len(prompts))
    return flags


def _counts(run: CleaningRun) -> dict[str, dict[str, int]]:
    counts = {f: {"prompts": 0, "demonstrations": 0} for f in run.filters}
    for row in (
        CleaningFlag.objects.filter(run=run)
        .values("filter")
        .annotate(
            prompts=Count("prompt", distinct=True), demonstrations=Count("demonstration", distinct=True)
        )
    ):
        counts[row["filter"]] = {"prompts": row["prompts"], "demonstrations": row["demonstrations"]}
    return counts


@transaction.atomic
def cluster_keep(*, cluster: DuplicateCluster, keep_id: int) -> DuplicateCluster:
    """Keep `keep_id` instead of the rule's choice; the member kept before is flagged in its place."""
    if keep_id not in cluster.member_ids:
        raise DomainError(f"{keep_id} is not a member of this cluster", field="keep")
    if keep_id == cluster.kept_id:
        return cluster
    flags = CleaningFlag.objects.filter(cluster=cluster)
    if not flags.exists():
        raise DomainError("this cluster's flags were replaced by a later run", field="cluster")
    cluster.kept_id = keep_id
    cluster.keep_rule = "admin"
    cluster.save(update_fields=["kept_id", "keep_rule"])
    flags.delete()
    run = cluster.run
    CleaningFlag.objects.bulk_create(
        _duplicate_member_flags(run, cluster, _member_texts(cluster), run.filters)
    )
    return cluster


def parse_eval_file(stream: IO[bytes]) -> tuple[list[tuple[int, str, str]], list[tuple[int, str]]]:
    """JSONL lines with a `text` (or `prompt`, `question`, or chat `messages`) and an optional `id`.

    Returns (line, external id, text) rows and (line, problem) errors.
    """
    rows: list[tuple[int, str, str]] = []
    line_errors: list[LineError] = []
    for number, record in read_jsonl(stream, line_errors, max_line_bytes=MAX_EVAL_LINE_BYTES):
        try:
            rows.append((number, *_eval_record(record)))
        except ValueError as exc:
            line_errors.append(LineError(number, str(exc)))
    errors = [(e.line, e.reason) for e in line_errors]  # in line order, as they were found
    if not rows and not errors:
        errors.append((1, "the file holds no evaluation texts"))
    return rows, errors


def _eval_record(record: dict[str, Any]) -> tuple[str, str]:
    external_id = record.get("id", "")
    if not isinstance(external_id, str | int):
        raise ValueError("id must be a string or a number")
    if isinstance(record.get("messages"), list):
        messages = record["messages"]
        if not all(isinstance(m, dict) and isinstance(m.get("content", ""), str) for m in messages):
            raise ValueError("messages must be objects whose content is a string")
        text = message_text(messages, ("system", "user"))
    else:
        key = next((k for k in EVAL_TEXT_KEYS if k in record), None)
        if key is None:
            raise ValueError(f"no text: give one of {list(EVAL_TEXT_KEYS)} or messages")
        text = record[key]
        if not isinstance(text, str):
            raise ValueError(f"{key} must be a string")
    if not text.strip():
        raise ValueError("the text is empty")
    return str(external_id)[:200], text


@transaction.atomic
def eval_set_upload(*, project: Project, name: str, stream: IO[bytes], uploaded_by: User) -> EvalSet:
    """Store an evaluation set whole, or nothing when any line is bad (the error lists them all)."""
    name = name.strip()
    if not name:
        raise DomainError("give the evaluation set a name", field="name")
    if EvalSet.objects.filter(project=project, name=name).exists():
        raise Conflict(f"project {project.name!r} already has an evaluation set named {name!r}", field="name")
    rows, errors = parse_eval_file(stream)
    if errors:
        raise EvalSetRejected(
            f"nothing stored: {len(errors)} line(s) of the file have problems", lines=errors
        )
    eval_set = EvalSet.objects.create(
        project=project, name=name, uploaded_by=uploaded_by, item_count=len(rows)
    )
    EvalItem.objects.bulk_create(
        [EvalItem(eval_set=eval_set, line=line, external_id=eid, text=text) for line, eid, text in rows],
        batch_size=2000,
    )
    return eval_set


@transaction.atomic
def eval_set_delete(*, eval_set: EvalSet) -> None:
    """Forget an evaluation set; the contamination flags it caused go with it."""
    eval_set.delete()
