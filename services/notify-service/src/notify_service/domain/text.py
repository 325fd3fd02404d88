"""Plain-text pieces every channel uses: one line per alert, headlines, and packing under size limits."""

from __future__ import annotations

from collections.abc import Sequence

from care_schemas.events.alert import Alert, AlertStatus

ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


def line(alert: Alert, *, markdown: bool = False) -> str:
    """One alert on one line: severity, status, rule, cluster, summary, fingerprint."""
    state = "RESOLVED" if alert.status is AlertStatus.RESOLVED else "FIRING"
    rule = f"`{alert.rule}`" if markdown else alert.rule
    where = f" on {alert.cluster_id}" if alert.cluster_id else ""
    text = (
        f"{ICON.get(alert.severity.value, '')} [{alert.severity.value.upper()}] {state} {rule}{where}: {alert.summary}"
    )
    if alert.link and markdown:
        text += f" <{alert.link}|open>"
    return f"{text} (fp {alert.fingerprint})"


def headline(alerts: Sequence[Alert], more: int = 0) -> str:
    """`3 alerts firing, 1 resolved on cluster cl-1`."""
    firing = sum(1 for a in alerts if a.status is AlertStatus.FIRING)
    resolved = len(alerts) - firing
    parts = []
    if firing:
        parts.append(f"{firing} firing")
    if resolved:
        parts.append(f"{resolved} resolved")
    cluster = alerts[0].cluster_id if alerts else None
    where = f" on cluster {cluster}" if cluster else (f" in project {alerts[0].project_id}" if alerts else "")
    if len(alerts) == 1 and not more:
        a = alerts[0]
        return f"[{a.severity.value.upper()}] {a.status.value.upper()}: {a.rule}{where}"
    return f"{len(alerts)} alerts ({', '.join(parts)}){where}" + (f", and {more} more to follow" if more else "")


def more_line(more: int) -> str:
    return f"... and {more} more (in the next message)"


def pack(lines: Sequence[str], *, chunk_chars: int, max_chunks: int, total_chars: int) -> tuple[list[str], int]:
    """Join lines into at most `max_chunks` chunks of at most `chunk_chars` (and `total_chars` overall);
    return the chunks and how many lines they hold. A single over-long line is cut."""
    chunks: list[str] = []
    current = ""
    used = 0
    covered = 0
    for raw in lines:
        text = raw if len(raw) <= chunk_chars else raw[: chunk_chars - 1] + "…"
        extra = len(text) + (1 if current else 0)
        if used + extra > total_chars:
            break
        if current and len(current) + extra > chunk_chars:
            if len(chunks) + 1 >= max_chunks:
                break
            chunks.append(current)
            current = ""
            extra = len(text)
        current = f"{current}\n{text}" if current else text
        used += extra
        covered += 1
    if current:
        chunks.append(current)
    return chunks, covered
