"""Alertmanager matchers as Alertmanager parses and applies them; regexes run by RE2, so no pattern can stall."""

from __future__ import annotations

import time

import pytest

from notify_service.domain.matchers import (
    Matcher,
    MatcherError,
    Op,
    filter_matches,
    matches_all,
    parse_matcher,
    parse_matchers,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('alertname="Disk full"', "alertname", Op.EQUAL, "Disk full"),
        ("severity!=info", "severity", Op.NOT_EQUAL, "info"),
        ('cluster_id=~"cl-.*"', "cluster_id", Op.REGEX, "cl-.*"),
        ("  job !~ node  ", "job", Op.NOT_REGEX, "node"),
        ('msg="say \\"hi\\"\\n"', "msg", Op.EQUAL, 'say "hi"\n'),
        ('path="C:\\tmp"', "path", Op.EQUAL, "C:\\tmp"),  # a spurious escape is a literal backslash
        ("empty=", "empty", Op.EQUAL, ""),
    ],
)
def test_text_matchers_parse_as_alertmanagers_classic_parser_does(text: str, name: str, op: Op, value: str) -> None:
    assert parse_matcher(text) == Matcher(name, value, op)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("alertname", "bad matcher format"),
        ('a="unterminated', "unescaped double quote"),
        ('a="x"y"', "unescaped double quote"),
        ("{a=b}", "brace"),
        ("1abc=x", "bad matcher format"),
        ('a=~"(x"', "invalid regular expression"),
        ('a=~"(a)\\1"', "invalid regular expression"),  # a backreference: RE2 refuses it
        ('a=~"(?=x)y"', "invalid regular expression"),  # a lookahead
    ],
)
def test_matchers_that_cannot_be_parsed_or_run_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(MatcherError, match=says):
        parse_matcher(text)


def test_a_list_in_braces_keeps_commas_inside_quotes() -> None:
    found = parse_matchers('{alertname="A,B", severity=~"critical|warning"}')
    assert found == [Matcher("alertname", "A,B"), Matcher("severity", "critical|warning", Op.REGEX)]


def test_regexes_are_anchored_like_alertmanagers() -> None:
    m = Matcher("cluster_id", "cl-1", Op.REGEX)
    assert m.matches("cl-1")
    assert not m.matches("cl-10")
    assert not m.matches("xcl-1")
    assert Matcher("a", "x|y", Op.REGEX).matches("y")
    assert Matcher("a", "x|y", Op.NOT_REGEX).matches("z")


def test_a_pattern_that_backtracks_exponentially_elsewhere_runs_in_linear_time() -> None:
    m = Matcher("a", "(a+)+b", Op.REGEX).validate()
    started = time.perf_counter()
    assert not m.matches("a" * 200_000 + "c")
    assert time.perf_counter() - started < 2.0  # Python's re takes longer than the universe's age here


def test_silence_matching_reads_an_absent_label_as_empty() -> None:
    labels = {"alertname": "Disk", "cluster_id": "cl-1"}
    assert matches_all([Matcher("alertname", "Disk"), Matcher("cluster_id", "cl-.*", Op.REGEX)], labels)
    assert matches_all([Matcher("team", "", Op.EQUAL)], labels)
    assert not matches_all([Matcher("team", "db")], labels)
    assert matches_all([Matcher("team", "db", Op.NOT_EQUAL)], labels)


def test_api_filters_treat_an_empty_value_as_present_or_absent_as_alertmanager_does() -> None:
    labels = {"alertname": "Disk", "team": "db"}
    assert filter_matches([Matcher("owner", "")], labels)  # owner="" : the label is absent
    assert filter_matches([Matcher("team", "", Op.NOT_EQUAL)], labels)  # team!="" : the label is present
    assert not filter_matches([Matcher("team", "web")], labels)


def test_api_shape_round_trips() -> None:
    m = Matcher("severity", "critical|warning", Op.NOT_REGEX)
    assert m.to_api() == {"name": "severity", "value": "critical|warning", "isRegex": True, "isEqual": False}
    assert Matcher.from_api("severity", "critical|warning", True, False) == m
    assert str(m) == 'severity!~"critical|warning"'
