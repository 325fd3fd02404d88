"""Grouping like Alertmanager's `group_by`: which alerts of a subscriber travel in one message.

A subscriber's `group_by` lists label names (Alertmanager labels: the alert's own, plus alertname, org_id,
project_id, source, cluster_id and severity). `None` (the default) groups by cluster, `["..."]` sends every alert
alone, `[]` puts all of a subscriber's alerts in one group. The group key itself is computed by the intake's SQL
(adapters/repository.py); this module checks settings and names a group's labels for the message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

EVERY_LABEL = "..."
DEFAULT_GROUP_BY = ("cluster_id",)
MAX_GROUP_LABELS = 20


def group_by_problem(group_by: Sequence[str] | None) -> str | None:
    """Why a group_by setting is refused, or None."""
    if group_by is None:
        return None
    if len(group_by) > MAX_GROUP_LABELS:
        return f"at most {MAX_GROUP_LABELS} label names"
    if EVERY_LABEL in group_by and len(group_by) > 1:
        return "'...' (every alert alone) cannot be combined with label names"
    if len(set(group_by)) != len(group_by):
        return "label names must not repeat"
    return None


def group_labels(group_by: Sequence[str] | None, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels a group is keyed by, from one of its alerts' labels (Alertmanager's `groupLabels`)."""
    names = DEFAULT_GROUP_BY if group_by is None else group_by
    if EVERY_LABEL in names:
        return dict(labels)
    return {name: labels[name] for name in names if name in labels}
