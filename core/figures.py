"""Numbers for people: 0.8240740740740741 shows as 0.824, 12000 as 12,000, 5e-05 as 5e-5."""

import math
import re
from collections.abc import Mapping
from typing import Any

_EXPONENT = re.compile(r"e([+-])0*(\d)")


def figure(value: Any) -> str:
    """A value as a page shows it: three significant digits for a fraction, thousands grouped, a
    dash for nothing; a table of values as "name value · name value"."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return _EXPONENT.sub(lambda m: "e" + ("-" if m[1] == "-" else "") + m[2], f"{value:.3g}")
    if isinstance(value, Mapping):
        return " · ".join(f"{key} {figure(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(figure(item) for item in value)
    return str(value)
