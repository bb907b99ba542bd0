"""The time limits of one call (``_deadline``), with a clock under the test's control."""

from __future__ import annotations

import pytest
from yarl import URL

from openproject_async import _deadline
from openproject_async._deadline import Clock, timed_out, with_total
from openproject_async._policy import Timeouts
from openproject_async.errors import RequestTimeout


class FakeTime:
    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime(1000.0)
    monkeypatch.setattr(_deadline, "time", fake)
    return fake


def test_without_a_deadline_each_exchange_gets_its_total(clock_time: FakeTime) -> None:
    clock = Clock(None)
    assert clock.elapsed() == 0.0
    assert clock.budget(300.0) == (300.0, False)
    assert clock.started == 1000.0
    clock_time.now = 1500.0
    assert clock.budget(300.0) == (300.0, False)
    assert clock.started == 1000.0  # the first slot's moment stays
    assert clock.elapsed() == 500.0


def test_the_deadline_counts_from_the_first_budget(clock_time: FakeTime) -> None:
    clock = Clock(60.0)
    assert clock.budget(300.0) == (60.0, True)
    clock_time.now = 1010.0
    assert clock.budget(300.0) == (50.0, True)
    assert clock.budget(30.0) == (30.0, False)  # the exchange's own limit is shorter
    assert clock.budget(50.0) == (50.0, False)  # equal: the exchange's limit says it
    clock_time.now = 1075.0
    assert clock.budget(300.0) == (-15.0, True)  # past the deadline (the caller clamps)
    assert clock.elapsed() == 75.0


def test_elapsed_is_zero_before_the_first_budget(clock_time: FakeTime) -> None:
    clock = Clock(60.0)
    clock_time.now = 5000.0
    assert clock.elapsed() == 0.0
    assert clock.started is None


@pytest.mark.parametrize(
    ("timeouts", "total", "expected"),
    [
        (Timeouts(10.0, 60.0, None), 60.0, Timeouts(10.0, None, 60.0)),
        (Timeouts(10.0, 60.0, None), 300.0, Timeouts(10.0, 60.0, 300.0)),
        (Timeouts(10.0, 61.0, 120.0), 60.0, Timeouts(10.0, None, 60.0)),
        (Timeouts(10.0, 59.9, None), 60.0, Timeouts(10.0, 59.9, 60.0)),
        (Timeouts(None, None, None), 5.0, Timeouts(None, None, 5.0)),
    ],
)
def test_with_total_leaves_out_a_read_timeout_that_cannot_fire_first(
    timeouts: Timeouts, total: float, expected: Timeouts
) -> None:
    assert with_total(timeouts, total) == expected


def test_the_error_names_the_calls_deadline(clock_time: FakeTime) -> None:
    clock = Clock(60.0)
    clock.budget(300.0)
    clock_time.now = 1061.25
    url = URL("https://op.test/api/v3/work_packages?token=s3cret&x=1")
    err = timed_out("GET", url, 0.5, True, 3, clock)
    assert type(err) is RequestTimeout
    assert str(err) == (
        "GET https://op.test/api/v3/work_packages?token=***&x=1: no complete answer within "
        "0.5s: the retry policy's deadline of 60s for the whole call ran out "
        "(attempt 3, 61.2s in all)"
    )
    assert err.url == "https://op.test/api/v3/work_packages?token=***&x=1"
    assert err.method == "GET"
    assert err.timeout == 0.5


def test_the_error_names_the_exchange_limit_and_never_a_negative_one(
    clock_time: FakeTime,
) -> None:
    clock = Clock(None)
    clock.budget(300.0)
    clock_time.now = 1300.0
    err = timed_out("POST", URL("https://op.test/api/v3/x"), -2.0, False, 1, clock)
    assert str(err) == (
        "POST https://op.test/api/v3/x: no complete answer within 0s: "
        "the time limit of one exchange (attempt 1, 300.0s in all)"
    )
    assert err.timeout == 0.0
    assert (err.url, err.method) == ("https://op.test/api/v3/x", "POST")
