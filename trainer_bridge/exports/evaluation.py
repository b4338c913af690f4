"""The blind evaluation's votes as files: every vote as it was cast, and DPO preference pairs.

- Votes: one row per vote (its current revision; rejected votes left out): the prompt, both versions
  with their answers, which one was shown on the left, the choice, the winner, the reason, the labeler.
- DPO pairs: TRL's conversational preference rows `{"prompt", "chosen", "rejected"}`, one per
  evaluation task where one side won: more votes for it than for the other side (ties count for
  neither; an even split gives no row). Each row names both versions and the vote counts.

Rows stream from a server-side cursor in chunks, with the answers' texts read a chunk at a time.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import groupby, islice
from typing import Any

import orjson
from django.http import StreamingHttpResponse

from labeling.models import Candidate, Project
from labeling.selectors.evaluation import VOTE_FIELDS, evaluation_votes
from registry.models import ModelVersion

CHUNK = 1000
Row = dict[str, Any]


def _rows(project: Project, accepted_only: bool, order: tuple[str, ...]) -> Iterator[Row]:
    votes = (
        evaluation_votes(project=project, accepted_only=accepted_only)
        .order_by(*order)
        .values(*VOTE_FIELDS, "task__prompt__messages")
    )
    return votes.iterator(chunk_size=CHUNK)


def _chunks(items: Iterator[Any]) -> Iterator[list[Any]]:
    while chunk := list(islice(items, CHUNK)):
        yield chunk


def _texts(rows: Iterable[Row]) -> dict[int, str]:
    ids = {cid for row in rows for cid in row["task__candidate_ids"]}
    return dict(Candidate.objects.filter(pk__in=ids).values_list("pk", "text"))


def _side(row: Row, side: str, names: dict[int, str], texts: dict[int, str]) -> Row:
    version = row[f"task__evaluation_pair__{side}_version_id"]
    candidate = row["task__candidate_ids"][0 if side == "left" else 1]
    return {"model_version": version, "name": names.get(version, ""), "answer": texts.get(candidate, "")}


def evaluation_vote_rows(*, project: Project, accepted_only: bool = False) -> Iterator[Row]:
    names = dict(ModelVersion.objects.values_list("pk", "name"))
    for chunk in _chunks(_rows(project, accepted_only, ("id",))):
        texts = _texts(chunk)
        for row in chunk:
            left, right = _side(row, "left", names, texts), _side(row, "right", names, texts)
            yield {
                "vote": row["id"],
                "task": row["task_id"],
                "revision": row["revision"],
                "prompt_id": row["task__prompt_id"],
                "external_id": row["task__prompt__external_id"],
                "source": row["task__prompt__source"],
                "metadata": row["task__prompt__metadata"],
                "prompt": row["task__prompt__messages"],
                "left": left,
                "right": right,
                "shown_left": left["name"],
                "choice": row["choice"],
                "winner": {"left": left["name"], "right": right["name"]}.get(row["choice"]),
                "reason": row["reason"],
                "labeler": row["assignment__labeler__username"],
                "created_at": row["created_at"].isoformat(),
            }


def _decided(rows: Iterator[Row]) -> Iterator[tuple[Row, str, str, Counter[str]]]:
    """Per task (rows in task order): its first vote row, the side that won, the other, the counts."""
    for _, group in groupby(rows, key=lambda r: r["task_id"]):
        votes = list(group)
        counts = Counter(v["choice"] for v in votes)
        if counts["left"] != counts["right"]:
            won, lost = ("left", "right") if counts["left"] > counts["right"] else ("right", "left")
            yield votes[0], won, lost, counts


def evaluation_dpo_rows(*, project: Project, accepted_only: bool = False) -> Iterator[Row]:
    names = dict(ModelVersion.objects.values_list("pk", "name"))
    for chunk in _chunks(_decided(_rows(project, accepted_only, ("task_id", "id")))):
        texts = _texts(row for row, _, _, _ in chunk)
        for row, won, lost, counts in chunk:
            winner, loser = _side(row, won, names, texts), _side(row, lost, names, texts)
            yield {
                "prompt": row["task__prompt__messages"],
                "chosen": [{"role": "assistant", "content": winner["answer"]}],
                "rejected": [{"role": "assistant", "content": loser["answer"]}],
                "chosen_model": winner["name"],
                "rejected_model": loser["name"],
                "votes": {"chosen": counts[won], "rejected": counts[lost], "tie": counts["tie"]},
                "task": row["task_id"],
                "prompt_id": row["task__prompt_id"],
            }


def jsonl_response(rows: Iterator[Row], filename: str) -> StreamingHttpResponse:
    """Rows as a JSONL download, each written as it is read (sorted keys, UTF-8 as is)."""
    response = StreamingHttpResponse(
        (orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n" for row in rows),
        content_type="application/x-ndjson",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
