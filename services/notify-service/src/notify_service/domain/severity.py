"""Severity spellings senders use, mapped to the product's three (critical, warning, info).

Alertmanager rules name severities freely: `page`, `error`, `high`, `warn`, `P2`... Each known spelling maps to one
of the three; the alert keeps the sender's own label, so webhook receivers and filters downstream still see it.
An unknown spelling is a warning (the default when the label is missing): an alert is never lost over a label.
"""

from __future__ import annotations

from care_schemas.events.alert import AlertSeverity


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SPELLINGS: dict[AlertSeverity, frozenset[str]] = {
    AlertSeverity.CRITICAL: _words(
        "critical crit page pager paging fatal emergency emerg alert disaster high major error err severe urgent"
        " p1 p2 sev1 sev2 s1 s2 1 2"
    ),
    AlertSeverity.WARNING: _words("warning warn medium moderate average minor ticket p3 sev3 s3 3"),
    AlertSeverity.INFO: _words("info information informational notice low none debug ok p4 p5 sev4 sev5 s4 s5 4 5"),
}
_BY_SPELLING = {spelling: severity for severity, names in SPELLINGS.items() for spelling in names}
DEFAULT = AlertSeverity.WARNING


def severity_of(label: str | None) -> AlertSeverity:
    """The product's severity for a sender's label (case and surrounding blanks ignored); unknown is warning."""
    if label is None:
        return DEFAULT
    return _BY_SPELLING.get(label.strip().lower(), DEFAULT)
