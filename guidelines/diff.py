"""What changed between two guideline texts, as passages a labeler reads: the changed paragraphs rendered
as markdown, the inserted words in <ins> and the removed ones in <del>, unchanged paragraphs summed up.

Lines are compared first (as a unified diff does); a changed line is paired with the most similar new
line and compared word by word. Marks go after a line's markdown prefix (list bullet, heading hashes,
quote sign), so a changed list item stays a list item.
"""

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from django.utils.safestring import SafeString

from core.markdown import DEL_CLOSE, DEL_OPEN, INS_CLOSE, INS_OPEN, MARKERS, render_marked_markdown

_PREFIX = re.compile(r"^\s*(?:(?:>\s*)|(?:[-*+]|\d{1,9}[.)]|#{1,6})(?:\s+|$))*")
# Lines that only shape the document (code fences, rules, heading underlines, table delimiters) are
# never marked: a mark inside them would break the structure they give.
_STRUCTURE = re.compile(
    r"^\s*(?:```|~~~)|^\s*(?:[-*_=]\s*){3,}$|^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$"
)
_FENCE = re.compile(r"^\s*(?:```|~~~)")
_TOKENS = re.compile(r"\s+|\S+")
_SIMILAR = 0.4  # below this a changed line shows as removed and added whole, not word by word
_PAIRING_LIMIT = 10_000  # old x new lines of one changed run beyond which lines are not paired


@dataclass(frozen=True)
class Passage:
    """A changed paragraph (html), an unchanged heading kept for context, or a run of unchanged ones."""

    html: SafeString | str = ""
    changed: bool = False
    skipped: int = 0


def normalized(text: str) -> str:
    """One kind of line ending: browsers send CRLF from a textarea, files may hold CR."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _mark(text: str, opening: str, closing: str) -> str:
    """Marks around the words of `text`; whitespace at either end stays outside them."""
    core = text.strip()
    if not core:
        return text if opening == INS_OPEN else ""
    start = text.index(core)
    return f"{text[:start]}{opening}{core}{closing}{text[start + len(core) :]}"


def _split(line: str) -> tuple[str, str]:
    prefix = _PREFIX.match(line)
    end = prefix.end() if prefix else 0
    return line[:end], line[end:]


def _whole(line: str, opening: str, closing: str) -> str | None:
    """A line added or removed as a whole; a removed structural line is left out."""
    if _STRUCTURE.match(line):
        return line if opening == INS_OPEN else None
    prefix, content = _split(line)
    return prefix + _mark(content, opening, closing) if content.strip() else line


def _words(old: str, new: str) -> str:
    """The new line with the words that changed marked: removed words first, then the added ones."""
    if _STRUCTURE.match(new) or _STRUCTURE.match(old):
        return new
    prefix, after = _split(new)
    _, before = _split(old)
    a, b = _TOKENS.findall(before), _TOKENS.findall(after)
    out = [prefix]
    matcher = SequenceMatcher(lambda token: token.isspace(), a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append("".join(b[j1:j2]))
            continue
        if op in ("delete", "replace"):
            out.append(_mark("".join(a[i1:i2]), DEL_OPEN, DEL_CLOSE))
        if op in ("insert", "replace"):
            out.append(_mark("".join(b[j1:j2]), INS_OPEN, INS_CLOSE))
    return "".join(out)


def _replaced_whole(olds: list[str], news: list[str]) -> list[str]:
    removed = [_whole(line, DEL_OPEN, DEL_CLOSE) for line in olds]
    added = [_whole(line, INS_OPEN, INS_CLOSE) for line in news]
    return [line for line in removed + added if line is not None]


def _replaced(olds: list[str], news: list[str]) -> list[str]:
    """Changed lines: the most similar old and new pair is compared word by word, around it recursively."""
    best, pair = _SIMILAR, None
    if len(olds) * len(news) > _PAIRING_LIMIT:
        return _replaced_whole(olds, news)  # a rewrite: shown as removed, then added
    for i, old in enumerate(olds):
        for j, new in enumerate(news):
            matcher = SequenceMatcher(None, old, new, autojunk=False)
            if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best:
                if (ratio := matcher.ratio()) > best:
                    best, pair = ratio, (i, j)
    if pair is None:
        return _replaced_whole(olds, news)
    i, j = pair
    return [
        *_replaced(olds[:i], news[:j]),
        _words(olds[i], news[j]),
        *_replaced(olds[i + 1 :], news[j + 1 :]),
    ]


def merged(old: str, new: str) -> list[str]:
    """The lines of `new` with what changed since `old` marked, removed lines kept where they stood."""
    strip = str.maketrans("", "", MARKERS)
    a = normalized(old).translate(strip).split("\n") if old else []
    b = normalized(new).translate(strip).split("\n")
    lines: list[str] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            lines += b[j1:j2]
        elif op in ("insert", "delete"):
            lines += _replaced_whole(a[i1:i2], b[j1:j2])
        else:
            lines += _replaced(a[i1:i2], b[j1:j2])
    return lines


def _blocks(lines: list[str]) -> list[str]:
    """Paragraphs: lines between blank lines, a fenced code block kept whole."""
    blocks: list[str] = []
    current: list[str] = []
    fenced = False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append("\n".join(current))
            current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def text_diff(old: str, new: str) -> list[Passage]:
    """The changed paragraphs of `new` against `old`, in order; unchanged runs collapse into a count,
    except a heading just before a change, which stays to say where the change is."""
    passages: list[Passage] = []
    unchanged: list[str] = []
    for block in _blocks(merged(old, new)):
        if not any(mark in block for mark in MARKERS):
            unchanged.append(block)
            continue
        context = unchanged.pop() if unchanged and unchanged[-1].lstrip().startswith("#") else None
        if unchanged:
            passages.append(Passage(skipped=len(unchanged)))
        if context is not None:
            passages.append(Passage(html=render_marked_markdown(context)))
        passages.append(Passage(html=render_marked_markdown(block), changed=True))
        unchanged = []
    if passages and unchanged:
        passages.append(Passage(skipped=len(unchanged)))
    return passages
