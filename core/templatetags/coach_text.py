from django import template

from core.text import sentence as as_sentence

register = template.Library()


@register.filter
def sentence(text: str) -> str:
    """`{{ error|sentence }}`: an error's detail as a sentence (the value stays escaped)."""
    return as_sentence(text)
