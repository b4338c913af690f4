"""Parsing what a browser or a client sends: bounded numbers, upload size, a refused form's message."""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, overload

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File

from core import jsonsafe
from core.errors import DomainError, NotAllowed, NotFound

# Every whole number parsed here lands in a Postgres integer column (or sizes one); larger ones are refused.
INT_MAX, SMALLINT_MAX = 2**31 - 1, 2**15 - 1


def upload_within_limit(upload: File) -> None:
    """Refuse an uploaded file larger than settings.MAX_UPLOAD_BYTES, saying both sizes."""
    limit = settings.MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError(
            f"The file holds {upload.size:,} bytes; uploads are limited to {limit:,} bytes.", code="too_big"
        )


class JSONField(forms.JSONField):
    """A form's JSON text through core.jsonsafe: deep nesting, NaN, NUL or lone surrogates are refused."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values:
            return super().to_python(value)
        if not isinstance(value, str):
            return value
        try:
            return jsonsafe.loads(value)
        except jsonsafe.JSONRefused as exc:
            raise ValidationError(exc.detail, code="invalid") from None

    def bound_data(self, data: Any, initial: Any) -> Any:
        # Shown again as the person typed it; Django would parse it with json (which recurses).
        return initial if self.disabled else forms.fields.InvalidJSONInput(data or "")


@overload
def int_or_error(value: Any, field: str, *, default: int) -> int: ...
@overload
def int_or_error(value: Any, field: str, *, default: None = None) -> int | None: ...
def int_or_error(value: Any, field: str, *, default: int | None = None) -> int | None:
    """A whole number from a form, bounded to what a Postgres integer holds; `default` when left empty."""
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise DomainError(f"{field} must be a whole number", field=field) from None
    if abs(number) > INT_MAX:
        raise DomainError(f"{field} must be below {INT_MAX + 1}", field=field)
    return number


def id_or_error(value: Any, field: str) -> int:
    """A required id from a form: a missing one is the sender's mistake, named by its field."""
    number = int_or_error(value, field)
    if number is None:
        raise DomainError(f"choose the {field.replace('_', ' ')}", field=field)
    return number


def float_or_error(value: Any, field: str, *, default: float) -> float:
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DomainError(f"{field} must be a number", field=field) from None
    if not math.isfinite(number):
        raise DomainError(f"{field} must be a finite number", field=field)
    return number


def form_errors_text(form: forms.BaseForm | None) -> str:
    """A bound form's errors as one sentence for a page."""
    if form is None or not form.errors:
        return ""
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def refusal_context(error: DomainError) -> dict[str, Any]:
    """What an upload page shows of a refused file: the reason and, when it names them, the bad lines."""
    lines = error.extra.get("lines", [])
    return {
        "error": error.detail,
        "lines": lines,
        "total_errors": error.extra.get("total_errors", len(lines)),
    }


@contextmanager
def errors_on(form: forms.BaseForm) -> Iterator[None]:
    """Run a service for a form: a refusal lands on the form, under the field it names."""
    try:
        yield
    except (NotFound, NotAllowed):
        raise
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
