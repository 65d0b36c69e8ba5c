"""How the mock compares addresses: a phone number however it is written, as its international digits.

Users write one number several ways (``+447700900004``, ``00447700900004``, ``+44 7700 900004``,
``+44 (0)...`` aside); the vendor reads them all as ``447700900004``. Wherever the mock matches an
address (delivery rules, test destinations, the ``to`` filter of logs, the network of a number) it
compares this form. What the vendor echoes (the answer's and the reports' ``to``) stays as sent.
"""

from __future__ import annotations

#: What people put between the digits of a phone number.
_SEPARATORS = str.maketrans("", "", " \t-.()/\u00a0")
_DIGITS = frozenset("0123456789")
_GLOB = frozenset("*?[]!")


def _international(compact: str) -> str:
    if compact.startswith("+"):
        return compact[1:]
    if compact.startswith("00"):
        return compact[2:]
    return compact


def matching_form(address: str) -> str:
    """A phone number as its digits without ``+`` or ``00``; any other address (an email, a user key) as given."""
    if address.isascii() and address.isdigit() and not address.startswith("00"):
        return address  # already the form (most numbers sent): what the rest would give, a tenth of the cost
    digits = _international(address.translate(_SEPARATORS))
    return digits if digits and set(digits) <= _DIGITS else address


def matching_pattern(pattern: str) -> str:
    """A rule's destination in the form addresses are compared in: ``+44 7700*`` matches ``447700900004``.

    Only a pattern of digits (and glob characters) changes; separators inside a ``[...]`` set stay."""
    stripped = pattern.strip()
    if "[" in stripped:
        candidate, allowed = _international(stripped), _DIGITS | _GLOB | {"-"}
    else:
        candidate, allowed = _international(stripped.translate(_SEPARATORS)), _DIGITS | _GLOB
    return candidate if candidate and set(candidate) <= allowed and set(candidate) & _DIGITS else pattern
