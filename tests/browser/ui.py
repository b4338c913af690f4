"""What browser tests do on a page: log in, keep a screenshot."""

import re
from pathlib import Path
from typing import Any

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def login(page: Any, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-" + username)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


SIZES = {"wide": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def shots(page: Any, name: str, *, full_page: bool = True) -> list[Path]:
    """Keep the page as it looks on a laptop (1440x900) and on a phone (390x844), then restore the size.
    `full_page=False` keeps what the screen shows, with fixed bars where a person sees them."""
    before = page.viewport_size
    paths = []
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        paths.append(shot(page, f"{name}-{label}", full_page=full_page))
    if before:
        page.set_viewport_size(before)
    return paths


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Keep a screenshot (by default of the whole page) as a test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
