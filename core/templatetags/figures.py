"""`{% load figures %}`, then `{{ value|figure }}`: numbers formatted for people (core.figures)."""

from typing import Any

from django import template

from core.figures import figure as _figure

register = template.Library()


@register.filter
def figure(value: Any) -> str:
    return _figure(value)
