"""A training job's settings as an admin sends them (form, API, command), checked against the engine's
settings class: unknown names refused, each value of its field's type, numbers finite and non-negative."""

import math
from dataclasses import fields
from typing import Any

from core.errors import DomainError


def settings_checked(
    raw: dict[str, Any] | None, settings_class: type, defaults: dict[str, Any], what: str
) -> dict[str, Any]:
    """The defaults with the values sent (blank ones left out), each of its field's type, or a
    DomainError naming the field; output_dir is the job's own."""
    known = {f.name: f for f in fields(settings_class) if f.name != "output_dir"}
    raw = {k: v for k, v in (raw or {}).items() if v is not None and v != ""}
    if unknown := sorted(set(raw) - set(known)):
        raise DomainError(f"unknown {what} settings {unknown}; known: {sorted(known)}", field="config")
    config = dict(defaults)
    for name, value in raw.items():
        kind_of = known[name].type
        if kind_of in ("bool", bool):
            config[name] = _flag(name, value)
            continue
        if kind_of in ("str", str):
            config[name] = str(value).strip()
            continue
        as_float = kind_of in ("float", float)
        try:
            number = float(value) if as_float else int(value)
        except (TypeError, ValueError):
            raise DomainError(f"{name} must be a number", field=name) from None
        if not math.isfinite(number) or number < 0 or (not as_float and number != float(value)):
            raise DomainError(
                f"{name} must be a non-negative {'number' if as_float else 'whole number'}", field=name
            )
        config[name] = number
    return config


def at_least_one(config: dict[str, Any], names: set[str] | tuple[str, ...]) -> None:
    for name in sorted(set(names) & set(config)):
        if config[name] < 1:
            raise DomainError(f"{name} must be at least 1", field=name)


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise DomainError(f"{name} must be true or false", field=name)
