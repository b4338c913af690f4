"""PII detection and scrubbing: regexes checked by validators (Luhn, IBAN mod-97, SSN ranges, libphonenumber).

Not presidio: its recognisers need a spaCy language model that cannot be downloaded here (and weighs
hundreds of MB in every worker); the structured kinds below are what presidio finds by regex + checksum
too. Names and street addresses need NER and are not detected.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers


class PiiKind(StrEnum):
    URL_CREDENTIALS = "URL_CREDENTIALS"
    EMAIL = "EMAIL"
    IBAN = "IBAN"
    CREDIT_CARD = "CREDIT_CARD"
    US_SSN = "US_SSN"
    PHONE_NUMBER = "PHONE_NUMBER"
    IP_ADDRESS = "IP_ADDRESS"


# Where two findings overlap, the earlier kind here wins: an email inside credentials is the credentials,
# a card number is not also a phone number.
_PRIORITY = {kind: rank for rank, kind in enumerate(PiiKind)}


@dataclass(frozen=True)
class PiiSpan:
    start: int
    end: int
    kind: PiiKind
    text: str


# ---------------------------------------------------------------------------------------------
# Validators


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number carries."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char)
        if position % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The issuer a number's prefix and length belong to, or None (Luhn alone passes 1 in 10 numbers)."""
    n = len(digits)
    two, four, six = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and n == 16:
        return "mastercard"
    if two in (34, 37) and n == 15:
        return "amex"
    if (
        four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649 or 622126 <= six <= 622925
    ) and 16 <= n <= 19:
        return "discover"
    if 3528 <= four <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= int(digits[:3]) <= 305 or two in (36, 38, 39) or digits[:4] == "3095") and 14 <= n <= 19:
        return "diners"
    if two == 62 and 16 <= n <= 19:
        return "unionpay"
    if (
        digits[:4] in ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763")
        and 12 <= n <= 19
    ):
        return "maestro"
    return None


# IBAN length per country, from the SWIFT IBAN registry.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban_valid(iban: str) -> bool:
    """Country length and the ISO 13616 mod-97 check (first four characters moved last, letters 10..35)."""
    compact = re.sub(r"[\s-]", "", iban).upper()
    if not compact.isalnum() or not compact.isascii() or IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    if not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """SSA never issues area 000, 666 or 900-999, group 00 or serial 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


# ---------------------------------------------------------------------------------------------
# Detectors: each yields (start, end) spans of one kind

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,63}(?![\w-])")
_URL_CREDENTIALS = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://([^\s/@:]+:[^\s/@]+)@[^\s/@]")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d-])")
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}")
_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4})(?![\w:])"
)
# Digits with the separators phone numbers are written with; libphonenumber then decides.
_PHONE_CANDIDATE = re.compile(r"\+?\(?\d[\d\s().\-/]{5,}\d")


def _emails(text: str, _region: str) -> Iterator[tuple[int, int]]:
    for m in _EMAIL.finditer(text):
        yield m.span()


def _url_credentials(text: str, _region: str) -> Iterator[tuple[int, int]]:
    for m in _URL_CREDENTIALS.finditer(text):
        yield m.span(1)  # only user:password, so the scrubbed URL still says where it pointed


def _credit_cards(text: str, _region: str) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if 12 <= len(digits) <= 19 and luhn_valid(digits) and card_brand(digits):
            yield m.span()


def _ibans(text: str, _region: str) -> Iterator[tuple[int, int]]:
    for m in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(m.group()[:2])
        end = _iban_end(text, m.start(), length) if length else None
        if end is not None and iban_valid(text[m.start() : end]):
            yield m.start(), end


def _iban_end(text: str, start: int, length: int) -> int | None:
    """End of `length` alphanumerics from `start`, allowing single spaces between groups, at a word edge."""
    count, i = 0, start
    while i < len(text) and count < length:
        char = text[i]
        if char.isascii() and char.isalnum():
            count += 1
        elif not (char == " " and count and i + 1 < len(text) and text[i + 1].isalnum()):
            return None
        i += 1
    if count < length or (i < len(text) and text[i].isalnum()):
        return None
    return i


def _ssns(text: str, _region: str) -> Iterator[tuple[int, int]]:
    for m in _SSN.finditer(text):
        if ssn_valid(m.group(1), m.group(3), m.group(4)):
            yield m.span()


def _ip_addresses(text: str, _region: str) -> Iterator[tuple[int, int]]:
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        yield m.span()
    for m in _IPV6.finditer(text):
        try:
            address = ipaddress.IPv6Address(m.group())
        except ValueError:
            continue
        if not (address.is_loopback or address.is_unspecified):  # "::1" and "::" identify nobody
            yield m.span()


def _phone_numbers(text: str, region: str) -> Iterator[tuple[int, int]]:
    # libphonenumber's matcher is slow on number-dense text, so it only sees phone-shaped stretches.
    for candidate in _PHONE_CANDIDATE.finditer(text):
        if sum(c.isdigit() for c in candidate.group()) < 7:
            continue
        offset = candidate.start()
        for match in phonenumbers.PhoneNumberMatcher(
            candidate.group(), region, leniency=phonenumbers.Leniency.VALID
        ):
            yield offset + match.start, offset + match.end


_DETECTORS: dict[PiiKind, Callable[[str, str], Iterator[tuple[int, int]]]] = {
    PiiKind.URL_CREDENTIALS: _url_credentials,
    PiiKind.EMAIL: _emails,
    PiiKind.IBAN: _ibans,
    PiiKind.CREDIT_CARD: _credit_cards,
    PiiKind.US_SSN: _ssns,
    PiiKind.PHONE_NUMBER: _phone_numbers,
    PiiKind.IP_ADDRESS: _ip_addresses,
}


# ---------------------------------------------------------------------------------------------
# Public API


def find_pii(text: str, *, kinds: Iterable[PiiKind] | None = None, phone_region: str = "US") -> list[PiiSpan]:
    """Non-overlapping PII spans in text order.

    `phone_region` is the country assumed for numbers written without a +country code.
    """
    wanted = set(PiiKind) if kinds is None else {PiiKind(k) for k in kinds}
    found = [
        PiiSpan(start, end, kind, text[start:end])
        for kind in sorted(wanted, key=_PRIORITY.__getitem__)
        for start, end in _DETECTORS[kind](text, phone_region)
    ]
    return _without_overlaps(found)


def scrub_spans(text: str, spans: Iterable[PiiSpan]) -> str:
    """Replace each span with a typed placeholder such as <EMAIL>; spans must not overlap."""
    pieces, cursor = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < cursor:
            raise ValueError(f"overlapping spans at {span.start}")
        pieces += [text[cursor : span.start], f"<{span.kind}>"]
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def scrub_pii(text: str, *, kinds: Iterable[PiiKind] | None = None, phone_region: str = "US") -> str:
    return scrub_spans(text, find_pii(text, kinds=kinds, phone_region=phone_region))


def _without_overlaps(spans: list[PiiSpan]) -> list[PiiSpan]:
    """Keep the higher-priority kind (then the longer span) wherever two findings overlap."""
    kept: list[PiiSpan] = []
    for span in sorted(spans, key=lambda s: (_PRIORITY[s.kind], s.start - s.end, s.start)):
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)
