"""PII detection checks candidates with validators, and scrubbing leaves typed placeholders."""

from curation.cleaning.pii import PiiKind, find_pii, iban_valid, luhn_valid, scrub_pii


def kinds(text: str) -> list[PiiKind]:
    return [span.kind for span in find_pii(text)]


def test_email_is_found_and_scrubbed():
    assert scrub_pii("Write to jane.doe@example.org today.") == "Write to <EMAIL> today."


def test_card_numbers_need_a_valid_checksum_and_brand():
    assert luhn_valid("4111111111111111")
    assert kinds("card 4111 1111 1111 1111") == [PiiKind.CREDIT_CARD]
    assert kinds("card 4111 1111 1111 1112") == []


def test_iban_checks_country_length_and_mod_97():
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("DE89 3704 0044 0532 0130 01")
    assert kinds("pay to GB82 WEST 1234 5698 7654 32 now") == [PiiKind.IBAN]


def test_ssn_ranges_never_issued_are_ignored():
    assert kinds("SSN 123-45-6789") == [PiiKind.US_SSN]
    assert kinds("SSN 666-45-6789") == []


def test_phone_numbers_are_validated_by_libphonenumber():
    assert kinds("Call +1 650-253-0000 tomorrow") == [PiiKind.PHONE_NUMBER]
    assert kinds("Call +44 20 7946 0958") == [PiiKind.PHONE_NUMBER]
    assert kinds("The year 2024 had 366 days") == []


def test_ip_addresses_but_not_loopback():
    assert kinds("server 192.168.10.4 and 2001:db8::1") == [PiiKind.IP_ADDRESS, PiiKind.IP_ADDRESS]
    assert kinds("version 1.2.3.4.5 and ::1") == []


def test_url_credentials_keep_the_host_visible():
    assert scrub_pii("https://bob:hunter2@db.example.com/x") == "https://<URL_CREDENTIALS>@db.example.com/x"


def test_overlapping_findings_keep_one_span():
    spans = find_pii("id 4111111111111111 end")
    assert [(s.kind, s.text) for s in spans] == [(PiiKind.CREDIT_CARD, "4111111111111111")]


def test_kinds_can_be_restricted():
    assert scrub_pii("a@b.co 123-45-6789", kinds=[PiiKind.US_SSN]) == "a@b.co <US_SSN>"
