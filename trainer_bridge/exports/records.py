"""What each export writes per snapshot row: TRL's conversational formats.

- SFT: `{"messages": [...], "tools": [...]}` (tools only on rows that have them).
- RM pairwise: `{"prompt": [...], "tools"?, "chosen": [assistant turn], "rejected": [assistant turn],
  "margin"?}`, one row per pair of candidates in different tiers (a tie gives no pair), grouped by prompt;
  `tools` where the prompt holds tool calls (a chat whose assistant searched).
- RM K-wise: `{"prompt", "candidates": [texts best first], "tiers": [tier of each, 0 = best], ...}`,
  the shape `trainer_bridge.ml.reward` trains on (one ranking = one batch element).
- By consensus, one ranking per task by the rule the snapshot's manifest names
  (`curation.quality.consensus`), and each record says which in `consensus_rule`. A snapshot frozen
  before manifests named a rule takes the mean rank, and its records stay as they were: no
  `consensus_rule`, so an export of it is byte for byte what it always was.
- Prompts: `{"prompt": [...]}` once per prompt, for the RL stage.

Other trainers' layouts (`layout`), where they read something else:

- OpenRLHF preferences: `{"chosen": [prompt..., assistant turn], "rejected": [...], "margin"?}`, whole
  conversations, as its reward-model and DPO trainers read them with `--apply_chat_template` and no
  `--prompt_key` (DPO takes the prompt from `chosen[:-1]`).
- OpenRLHF prompts: `{"input": [...], "datasource"}` (`--input_key input`).
- verl prompts: `data_source`, `prompt`, `ability: "alignment"`, `reward_model: {"style": "model",
  "ground_truth": ""}` (a reward model scores them: there is no answer to check) and
  `extra_info: {"split", "index", "prompt_id"}`, as verl's own RLHF preprocessing writes them.
"""

from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from typing import Any, TypeVar

import orjson

from curation.quality.consensus import MEAN_RANK, ConsensusRule, consensus_ranking
from labeling.edits import drafted_reply_index

Row = dict[str, Any]
T = TypeVar("T")


_dumps = orjson.dumps


# --- SFT -----------------------------------------------------------------------------------------


def sft_records(rows: Iterable[Row], *, skip_unchanged_drafts: bool = False) -> Iterator[Row]:
    """`skip_unchanged_drafts`: leave out replies that are a model draft submitted as it was (the model's
    own words teach it nothing new)."""
    for row in rows:
        if skip_unchanged_drafts and row.get("model_draft", {}).get("unchanged"):
            continue
        record: Row = {"messages": row["messages"]}
        if row.get("tools"):
            record["tools"] = row["tools"]
        yield record


# --- reward model: rankings ----------------------------------------------------------------------


def _rankings(rows: Iterable[Row], by: str, consensus: ConsensusRule | None) -> Iterator[Row]:
    """Per labeler: each row as it is. By consensus: one ranking per task over its labelers.

    `consensus` is the snapshot's rule; None for a snapshot whose manifest names none (mean rank).
    """
    if by == "labeler":
        yield from rows
        return
    # by task and prompt: a chat task holds a ranking per turn, each with its own prefix prompt
    for _, group in groupby(rows, key=lambda row: (row["task_id"], row["prompt_id"])):
        members = list(group)
        found = consensus_ranking([row["tiers"] for row in members], rule=consensus or MEAN_RANK)
        yield members[0] | {
            "tiers": found.tiers,
            "labelers": sorted(row["labeler"] for row in members),
            "mean_ranks": {cid: float(rank) for cid, rank in found.mean_ranks.items()},
            "all_bad": all(row["all_bad"] for row in members),
        }


def _named_rule(consensus: ConsensusRule | None) -> Row:
    """The fields that name the consensus rule in a record: none for a snapshot that names no rule."""
    return {} if consensus is None else {"consensus_rule": consensus}


def ranked_pairs(tiers: list[list[int]]) -> Iterator[tuple[int, int, int]]:
    """(chosen id, rejected id, tier distance) for every two candidates in different tiers, best first."""
    for better, upper in enumerate(tiers):
        for worse in range(better + 1, len(tiers)):
            for chosen in upper:
                for rejected in tiers[worse]:
                    yield chosen, rejected, worse - better


def pair_lines(
    rows: Iterable[Row],
    *,
    by: str,
    margin: bool,
    consensus: ConsensusRule | None = None,
    layout: str = "trl",
) -> Iterator[bytes]:
    """Pairwise JSONL lines, built from pieces encoded once per ranking (a K=9 ranking gives 36 lines)."""
    for ranking in _rankings(rows, by, consensus):
        texts = {c["id"]: c["text"] for c in ranking["candidates"]}
        turn = {cid: _dumps(_answer(ranking["prompt"], text, layout)) for cid, text in texts.items()}
        head = (
            b'{"chosen":'
            if layout == "openrlhf"
            else b'{"prompt":'
            + _dumps(ranking["prompt"])
            + (b',"tools":' + _dumps(ranking["tools"]) if ranking.get("tools") else b"")
            + b',"chosen":'
        )
        tail = _pair_tail(ranking, by, consensus)
        for chosen, rejected, distance in ranked_pairs(ranking["tiers"]):
            extra = b',"margin":%s' % _dumps(float(distance)) if margin else b""
            yield b"".join((head, turn[chosen], b',"rejected":', turn[rejected], extra, tail))


def _answer(prompt: list[Row], text: str, layout: str) -> list[Row]:
    """A chosen or rejected side: the assistant turn (TRL), or the whole conversation (OpenRLHF)."""
    turn = {"role": "assistant", "content": text}
    return [*prompt, turn] if layout == "openrlhf" else [turn]


def _pair_tail(ranking: Row, by: str, consensus: ConsensusRule | None) -> bytes:
    if by == "labeler":
        return b',"prompt_id":%d,"labeler":%s}\n' % (int(ranking["prompt_id"]), _dumps(ranking["labeler"]))
    rule = b',"consensus_rule":%s' % _dumps(consensus) if consensus else b""
    return b',"prompt_id":%d,"labeler":"consensus"%s}\n' % (int(ranking["prompt_id"]), rule)


def pair_records(
    rows: Iterable[Row],
    *,
    by: str,
    margin: bool,
    consensus: ConsensusRule | None = None,
    layout: str = "trl",
) -> Iterator[Row]:
    """The same pairs as `pair_lines`, as records (for Parquet)."""
    for ranking in _rankings(rows, by, consensus):
        texts = {c["id"]: c["text"] for c in ranking["candidates"]}
        for chosen, rejected, distance in ranked_pairs(ranking["tiers"]):
            record: Row = {} if layout == "openrlhf" else {"prompt": ranking["prompt"]}
            if layout != "openrlhf" and ranking.get("tools"):
                record["tools"] = ranking["tools"]
            record["chosen"] = _answer(ranking["prompt"], texts[chosen], layout)
            record["rejected"] = _answer(ranking["prompt"], texts[rejected], layout)
            if margin:
                record["margin"] = float(distance)
            record["prompt_id"] = ranking["prompt_id"]
            if by == "labeler":
                record["labeler"] = ranking["labeler"]
            else:
                record["labeler"] = "consensus"
                record.update(_named_rule(consensus))
            yield record


# --- reward model: edited over draft --------------------------------------------------------------


def with_edited_over_draft(
    rows: Iterable[Row],
    ranking_pairs: Callable[[list[Row]], Iterator[T]],
    draft_pair: Callable[[Row], Iterator[T]],
) -> Iterator[T]:
    """Rankings' pairs, and among them, where a reply started from a model draft and the labeler changed
    it, one pair of that reply (chosen) over the draft (rejected). Rows come grouped by task: one task's
    rankings, one task's replies, or a chat's conversation and the rankings of its turns."""
    for _, group in groupby(rows, key=lambda row: row["task_id"]):
        members = list(group)
        if rankings := [row for row in members if row["kind"] == "ranking"]:
            yield from ranking_pairs(rankings)
        for row in members:
            if row["kind"] != "ranking":
                yield from draft_pair(row)


def _edited_over_draft(row: Row, *, margin: bool, layout: str) -> Row | None:
    """Llama 3's "edited > chosen": the labeler's reply preferred over the model draft it was made from."""
    draft = row.get("model_draft")
    if draft is None or draft["unchanged"]:
        return None
    # a chat's drafted reply is its first answer, to the opening as the conversation holds it
    index = drafted_reply_index(row["messages"], chat=row["kind"] == "chat")
    prompt = row["messages"][:index] if row["kind"] == "chat" else row["prompt"]
    record: Row = {} if layout == "openrlhf" else {"prompt": prompt}
    record["chosen"] = _answer(prompt, row["messages"][index].get("content") or "", layout)
    record["rejected"] = _answer(prompt, draft["text"], layout)
    if margin:
        record["margin"] = 1.0
    record |= {"prompt_id": row["prompt_id"], "labeler": row["labeler"], "source": "edited_over_draft"}
    record["model"] = draft["model"]
    return record


def edited_over_draft_records(row: Row, *, margin: bool, layout: str) -> Iterator[Row]:
    record = _edited_over_draft(row, margin=margin, layout=layout)
    if record is not None:
        yield record


def edited_over_draft_lines(row: Row, *, margin: bool, layout: str) -> Iterator[bytes]:
    record = _edited_over_draft(row, margin=margin, layout=layout)
    if record is not None:
        yield _dumps(record) + b"\n"


def kwise_records(rows: Iterable[Row], *, by: str, consensus: ConsensusRule | None = None) -> Iterator[Row]:
    for ranking in _rankings(rows, by, consensus):
        texts = {c["id"]: c["text"] for c in ranking["candidates"]}
        order = [(cid, tier) for tier, members in enumerate(ranking["tiers"]) for cid in members]
        record: Row = {
            "prompt": ranking["prompt"],
            "candidates": [texts[cid] for cid, _ in order],
            "tiers": [tier for _, tier in order],
            "candidate_ids": [cid for cid, _ in order],
            "prompt_id": ranking["prompt_id"],
            "task_id": ranking["task_id"],
            "all_bad": ranking["all_bad"],
        }
        if by == "labeler":
            ratings = {r["candidate"]: r for r in ranking.get("ratings", [])}
            record["labeler"] = ranking["labeler"]
            record["ratings"] = [_rating(ratings.get(cid)) for cid, _ in order]
        else:
            record["labelers"] = ranking["labelers"]
            record["mean_ranks"] = [ranking["mean_ranks"][cid] for cid, _ in order]
            record.update(_named_rule(consensus))
        yield record


def _rating(rating: Row | None) -> Row | None:
    return None if rating is None else {k: v for k, v in rating.items() if k != "candidate"}


# --- prompts -------------------------------------------------------------------------------------


def _prompts(rows: Iterable[Row]) -> Iterator[tuple[Row, Any]]:
    """(the first row of each prompt, the tools of a row that used them); rows arrive grouped by prompt."""
    for _, group in groupby(rows, key=lambda row: row["prompt_id"]):
        members = list(group)
        yield members[0], next((row["tools"] for row in members if row.get("tools")), None)


def prompt_records(rows: Iterable[Row]) -> Iterator[Row]:
    """One record per prompt; tools come from a row that used them."""
    for first, tools in _prompts(rows):
        record: Row = {"prompt": first["prompt"], "prompt_id": first["prompt_id"]}
        if tools:
            record["tools"] = tools
        yield record


def verl_prompt_records(rows: Iterable[Row], *, data_source: str) -> Iterator[Row]:
    """One verl row per prompt, to be scored by a reward model."""
    for index, (first, _) in enumerate(_prompts(rows)):
        yield {
            "data_source": data_source,
            "prompt": first["prompt"],
            "ability": "alignment",
            "reward_model": {"style": "model", "ground_truth": ""},
            "extra_info": {"split": first["split"], "index": index, "prompt_id": first["prompt_id"]},
        }


def openrlhf_prompt_records(rows: Iterable[Row], *, data_source: str) -> Iterator[Row]:
    """One OpenRLHF prompt row per prompt."""
    for first, _ in _prompts(rows):
        yield {"input": first["prompt"], "datasource": data_source, "prompt_id": first["prompt_id"]}
