"""Plain-text pieces every channel uses: one line per alert, headlines, and packing under size limits."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from care_schemas.events.alert import Alert, AlertStatus

ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


def _is_link(value: str) -> bool:
    return value.startswith(("https://", "http://")) and not any(c in value for c in " <>|[]()\n")


def annotation_text(alert: Alert, style: str = "plain") -> str:
    """Every annotation as ` · name: value`, runbook_url first; links as Slack (`<url|name>`) or Markdown
    (`[name](url)`) links in those styles."""
    parts = []
    for name in sorted(alert.annotations, key=lambda n: (n != "runbook_url", n)):
        value = " ".join(alert.annotations[name].split())
        if _is_link(value) and style == "slack":
            parts.append(f"<{value}|{name}>")
        elif _is_link(value) and style == "markdown":
            parts.append(f"[{name}]({value})")
        else:
            parts.append(f"{name}: {value}")
    return "".join(f" · {p}" for p in parts)


def line(alert: Alert, *, markdown: bool = False, style: str | None = None) -> str:
    """One alert on one line: severity, status, rule, cluster, summary, annotations (runbook first), fingerprint.
    `markdown` is Slack's mrkdwn; `style` "markdown" is Lark's."""
    style = style or ("slack" if markdown else "plain")
    state = "RESOLVED" if alert.status is AlertStatus.RESOLVED else "FIRING"
    rule = f"`{alert.rule}`" if style != "plain" else alert.rule
    where = f" on {alert.cluster_id}" if alert.cluster_id else ""
    text = (
        f"{ICON.get(alert.severity.value, '')} [{alert.severity.value.upper()}] {state} {rule}{where}: {alert.summary}"
    )
    text += annotation_text(alert, style)
    if alert.link and style == "slack":
        text += f" <{alert.link}|open>"
    elif alert.link and style == "markdown":
        text += f" [open]({alert.link})"
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


def json_chars(text: str) -> int:
    """Characters `text` takes inside a JSON string with ASCII escapes (an emoji is 12, a line break 2): the
    strictest reading of a platform's limit on its JSON body."""
    return len(json.dumps(text)) - 2


def utf8_bytes(text: str) -> int:
    """Bytes `text` takes in UTF-8 (a Chinese character is 3, an emoji 4)."""
    return len(text.encode("utf-8"))


def _cut(text: str, limit: int, cost: Callable[[str], int]) -> str:
    if cost(text) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        mid = (low + high + 1) // 2
        if cost(text[:mid] + "…") <= limit:
            low = mid
        else:
            high = mid - 1
    return text[:low] + "…"


def pack(
    lines: Sequence[str],
    *,
    chunk_chars: int,
    max_chunks: int,
    total_chars: int,
    cost: Callable[[str], int] = len,
) -> tuple[list[str], int]:
    """Join lines into at most `max_chunks` chunks of at most `chunk_chars` (and `total_chars` overall), sizes
    measured by `cost` (characters by default; `json_chars` or `utf8_bytes` where the platform counts those);
    return the chunks and how many lines they hold. A single over-long line is cut."""
    chunks: list[str] = []
    current = ""
    used = 0
    covered = 0
    newline = cost("\n")
    for raw in lines:
        text = _cut(raw, chunk_chars, cost)
        extra = cost(text) + (newline if current else 0)
        if used + extra > total_chars:
            break
        if current and cost(current) + extra > chunk_chars:
            if len(chunks) + 1 >= max_chunks:
                break
            chunks.append(current)
            current = ""
            extra = cost(text)
        current = f"{current}\n{text}" if current else text
        used += extra
        covered += 1
    if current:
        chunks.append(current)
    return chunks, covered
