"""Per-organisation rate limit: a token bucket each, refilled over time, bounded in memory."""

from __future__ import annotations

import pytest

from assistant_service.domain.ratelimit import OrgRateLimiter

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_is_allowed_then_the_next_question_waits() -> None:
    clock = Clock()
    limiter = OrgRateLimiter(rate_per_s=0.5, burst=3, clock=clock)
    assert [limiter.take("org-a").allowed for _ in range(3)] == [True, True, True]
    refused = limiter.take("org-a")
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(2.0)


def test_bucket_refills_with_time() -> None:
    clock = Clock()
    limiter = OrgRateLimiter(rate_per_s=1, burst=2, clock=clock)
    limiter.take("org-a")
    limiter.take("org-a")
    assert not limiter.take("org-a").allowed
    clock.now += 1.0
    assert limiter.take("org-a").allowed
    clock.now += 60
    assert [limiter.take("org-a").allowed for _ in range(3)] == [True, True, False]


def test_one_organisation_cannot_use_up_another_ones_questions() -> None:
    limiter = OrgRateLimiter(rate_per_s=0.1, burst=1, clock=Clock())
    assert limiter.take("org-a").allowed
    assert not limiter.take("org-a").allowed
    assert limiter.take("org-b").allowed


def test_memory_is_bounded_by_forgetting_the_least_recently_active() -> None:
    clock = Clock()
    limiter = OrgRateLimiter(rate_per_s=1, burst=1, max_orgs=2, clock=clock)
    limiter.take("org-a")
    limiter.take("org-b")
    limiter.take("org-c")
    assert len(limiter._buckets) == 2
    assert "org-a" not in limiter._buckets


def test_refused_questions_do_not_push_the_wait_further() -> None:
    clock = Clock()
    limiter = OrgRateLimiter(rate_per_s=1, burst=1, clock=clock)
    limiter.take("org-a")
    for _ in range(5):
        assert limiter.take("org-a").retry_after_s == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.take("org-a").allowed


@pytest.mark.parametrize(("rate", "burst", "max_orgs"), [(0, 1, 1), (1, 0.5, 1), (1, 1, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: float, max_orgs: int) -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        OrgRateLimiter(rate, burst, max_orgs=max_orgs)
