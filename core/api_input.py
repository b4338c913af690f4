"""How the API reads a request: JSON bodies through core.jsonsafe, list offsets bounded.

Kept apart from core.api: REST_FRAMEWORK names these classes, and DRF imports them while its views
module (which core.api imports) is still loading.
"""

from typing import Any

from rest_framework import pagination, parsers

from core import jsonsafe


class JSONParser(parsers.JSONParser):
    """Request bodies through core.jsonsafe: nesting, NaN, surrogates or NUL give a 400 naming the field."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return jsonsafe.loads(stream.read())


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """At most 1,000 rows a page, and an offset past any table is an empty page, not a database error."""

    max_limit = 1000

    def get_offset(self, request: Any) -> int:
        return min(super().get_offset(request), 2**31 - 1)
