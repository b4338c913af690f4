"""The parts of a guideline that apply to one kind of task, for the guideline panel beside the work.

How a part is chosen: a guideline is split at its headings. A section whose heading names a kind of
task ("## Ranking", "## Writing demonstrations", "### Refusals") is about that kind; a section whose
heading names none is about what its parent section is about, and at the top level about every kind.
A task shows the sections about every kind and about its own kind; refusals and search-tool
conversations are demonstrations too, so they also show the demonstration sections. When nothing
would be left to show, the whole guideline is shown.
"""

import re
from dataclasses import dataclass

from django.utils.safestring import SafeString

from core.markdown import markdown_headings, render_markdown
from labeling.models import TaskKind

KIND_WORDS = {
    TaskKind.RANKING: re.compile(r"\b(rank(s|ed|ing|ings)?|ratings?)\b", re.I),
    TaskKind.DEMONSTRATION: re.compile(r"\b(demonstrations?|writ(e|ing))\b", re.I),
    TaskKind.REFUSAL: re.compile(r"\b(refus(al|als|e|ing)|i don'?t know)\b", re.I),
    TaskKind.SEARCH: re.compile(r"\b(search(es|ing)?|tools?|citations?|cit(e|ing)|sources?)\b", re.I),
    TaskKind.EVALUATION: re.compile(
        r"\b(evaluat(e|es|ing|ion|ions)|compar(e|es|ing|isons?)|a/b|votes?)\b", re.I
    ),
    TaskKind.CHAT: re.compile(r"\bchats?\b", re.I),
}
APPLIES = {
    TaskKind.RANKING: {TaskKind.RANKING},
    TaskKind.DEMONSTRATION: {TaskKind.DEMONSTRATION},
    TaskKind.REFUSAL: {TaskKind.REFUSAL, TaskKind.DEMONSTRATION},
    TaskKind.SEARCH: {TaskKind.SEARCH, TaskKind.DEMONSTRATION},
    TaskKind.EVALUATION: {TaskKind.EVALUATION},
    # a chat writes replies and ranks them
    TaskKind.CHAT: {TaskKind.CHAT, TaskKind.DEMONSTRATION, TaskKind.RANKING},
}
KIND_NAMES = {
    TaskKind.RANKING: "rankings",
    TaskKind.DEMONSTRATION: "demonstrations",
    TaskKind.REFUSAL: "refusals",
    TaskKind.SEARCH: "search-tool conversations",
    TaskKind.EVALUATION: "comparisons of two answers",
    TaskKind.CHAT: "chats",
}


@dataclass(frozen=True)
class GuidelinePart:
    html: SafeString
    left_out: list[str]  # headings of the sections not shown
    kind_name: str
    whole: bool  # nothing applied on its own, so the whole guideline is shown


def guideline_for_kind(body: str, kind: str) -> GuidelinePart:
    """The guideline's sections about every kind of task and about `kind`, rendered."""
    task_kind = TaskKind(kind)
    lines = body.splitlines(keepends=True)
    headings = markdown_headings(body)
    applies = APPLIES[task_kind]
    kept = list(lines[: headings[0].line] if headings else lines)
    left_out: list[str] = []
    parents: list[tuple[int, set[TaskKind]]] = []  # (level, kinds) of the sections this one sits in
    for i, heading in enumerate(headings):
        end = headings[i + 1].line if i + 1 < len(headings) else len(lines)
        while parents and parents[-1][0] >= heading.level:
            parents.pop()
        named = {k for k, words in KIND_WORDS.items() if words.search(heading.title)}
        kinds = named or (parents[-1][1] if parents else set())
        parents.append((heading.level, kinds))
        if not kinds or kinds & applies:
            kept.extend(lines[heading.line : end])
        else:
            left_out.append(heading.title)
    shown = "".join(kept)
    whole = bool(left_out) and not render_markdown(shown).strip()
    return GuidelinePart(
        html=render_markdown(body if whole else shown),
        left_out=[] if whole else left_out,
        kind_name=KIND_NAMES[task_kind],
        whole=whole,
    )
