"""Finding and redacting personal data (emails, phone numbers, payment cards, IBANs) in text."""

from __future__ import annotations

import re
from dataclasses import dataclass

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
# A phone number: optional +country, 8-15 digits with spaces, dots, dashes or brackets between groups.
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){2,4}(?!\w)")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")


@dataclass(frozen=True)
class PiiMatch:
    """A span of personal data found in a text."""

    kind: str
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum used by payment cards."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """True when the IBAN's mod-97 check digits are right."""
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(char, 36)) for char in rearranged)
    return int(numeric) % 97 == 1


def find_pii(text: str) -> list[PiiMatch]:
    """Non-overlapping PII spans, earliest first; cards must pass Luhn and IBANs their checksum."""
    found: list[PiiMatch] = []

    def overlaps(start: int, end: int) -> bool:
        return any(start < match.end and match.start < end for match in found)

    for match in EMAIL.finditer(text):
        found.append(PiiMatch("email", match.start(), match.end()))
    for match in IBAN.finditer(text):
        if not overlaps(match.start(), match.end()) and iban_valid(match.group()):
            found.append(PiiMatch("iban", match.start(), match.end()))
    for match in CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits) and not overlaps(match.start(), match.end()):
            found.append(PiiMatch("card", match.start(), match.end()))
    for match in PHONE.finditer(text):
        candidate = match.group()
        digits = re.sub(r"\D", "", candidate)
        minimum = 8 if candidate.startswith("+") else 9
        # "2018-09-14 23:56" is a timestamp, not a phone number.
        if DATE.search(candidate) or overlaps(match.start(), match.end()):
            continue
        if minimum <= len(digits) <= 15:
            found.append(PiiMatch("phone", match.start(), match.end()))
    return sorted(found, key=lambda match: match.start)


def redact_pii(text: str) -> tuple[str, list[PiiMatch]]:
    """`text` with every PII span replaced by `[kind removed]`, and the spans found."""
    matches = find_pii(text)
    pieces: list[str] = []
    cursor = 0
    for match in matches:
        pieces.append(text[cursor : match.start])
        pieces.append(f"[{match.kind} removed]")
        cursor = match.end
    pieces.append(text[cursor:])
    return "".join(pieces), matches


def remove_pii(text: str) -> str:
    """`text` with every PII span cut out: what the classifiers judge, so personal data never sways them."""
    matches = find_pii(text)
    if not matches:
        return text
    pieces: list[str] = []
    cursor = 0
    for match in matches:
        pieces.append(text[cursor : match.start])
        cursor = match.end
    pieces.append(text[cursor:])
    return " ".join("".join(pieces).split())
