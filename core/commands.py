"""What every management command shares: a refusal prints as a clean error, long work shows a bar."""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.errors import DomainError, NotFound
from core.types import User


class DomainCommand(BaseCommand):
    """A command whose DomainError becomes a CommandError with its message (and its bad lines, if any)."""

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except DomainError as exc:
            where = exc.extra.get("path", "line")
            for bad in exc.extra.get("lines", []):
                self.stderr.write(f"{where}:{bad['line']}: {bad['reason']}")
            raise CommandError(exc.detail) from None


def user_named(username: str | None) -> User | None:
    """The named user, or None when no name is given."""
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"there is no user {username!r}")
    return user


def author_named(username: str | None) -> User:
    """Who a command acts as when it must record an author: the named user, else the first superuser."""
    user = user_named(username) or get_user_model().objects.filter(is_superuser=True).first()
    if user is None:
        raise NotFound("name an existing user with --user")
    return user


@contextmanager
def progress_bar(enabled: bool, label: str, unit: str = "items") -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr fed with (done, total); a total that grows as the work is found is fine."""
    bar = tqdm(total=0, unit=unit, desc=label, disable=not enabled, dynamic_ncols=True, file=sys.stderr)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()
