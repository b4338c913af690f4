"""Text a person reads on a page."""

_END = (".", "!", "?", "…", ":")


def sentence(text: str) -> str:
    """A refusal worded for the API ("say why you skip this task") as a sentence on a page: a capital
    first, a full stop last."""
    text = str(text).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith(_END) else text + "."
