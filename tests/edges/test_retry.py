"""The retry policy's arithmetic, deadlines and the per-endpoint breaker."""

from __future__ import annotations

import pytest

from sreworkbook.edges.retry import (
    MIN_TIMEOUT_S,
    RUN_DEADLINE_ENV,
    Breaker,
    Deadline,
    RetryPolicy,
    within_run,
)
from sreworkbook.exceptions import ParameterError


def test_backoff_doubles_is_capped_and_jitter_only_shortens() -> None:
    policy = RetryPolicy(backoff_s=1.0, max_backoff_s=5.0, jitter=0.2)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert policy.backoff(2, draw=0.5) == pytest.approx(1.8)
    assert policy.backoff(4, draw=0.999) == pytest.approx(4.001)
    assert RetryPolicy(jitter=0).backoff(3, draw=0.9) == 2.0


def test_the_default_deadline_is_the_policys_own_worst_case() -> None:
    policy = RetryPolicy(timeout_s=10, retries=3, backoff_s=0.5, max_retry_after_s=60)
    assert policy.total_s == 4 * 10 + (0.5 + 1 + 2) + 60
    assert RetryPolicy(deadline_s=5).total_s == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [("timeout_s", 0), ("retries", -1), ("backoff_s", -1), ("jitter", 1.0), ("deadline_s", 0)],
)
def test_bad_policies_name_the_field(field: str, value: float) -> None:
    with pytest.raises(ParameterError, match=field):
        RetryPolicy(**{field: value})


def test_deadline_counts_down_on_the_given_clock() -> None:
    now = [100.0]
    deadline = Deadline.after(30, clock=lambda: now[0])
    assert deadline.remaining() == 30
    now[0] = 125.0
    assert deadline.remaining() == 5 and not deadline.expired()
    now[0] = 131.0
    assert deadline.remaining() == 0 and deadline.expired()
    sooner = Deadline(110.0, clock=lambda: now[0])
    assert deadline.sooner(sooner) is sooner and sooner.sooner(deadline) is sooner
    assert deadline.sooner(None) is deadline


def test_breaker_opens_after_failures_in_a_row_per_endpoint_and_a_success_closes_it() -> None:
    breaker = Breaker(threshold=3)
    for _ in range(2):
        breaker.failed("db:9090", "HTTP 503")
    assert breaker.refusal("db:9090") is None
    breaker.failed("db:9090", "cannot connect to db:9090 (connection refused)")
    assert breaker.refusal("db:9090") == (
        "cannot connect to db:9090 (connection refused) (gave up after 3 failures in a row)"
    )
    assert breaker.refusal("other:9090") is None
    breaker.succeeded("db:9090")
    assert breaker.refusal("db:9090") is None
    never = Breaker(threshold=0)
    for _ in range(10):
        never.failed("x", "down")
    assert never.refusal("x") is None


def test_the_runs_deadline_comes_from_the_environment() -> None:
    now = [100.0]
    deadline = Deadline.from_environ(
        {RUN_DEADLINE_ENV: "1700000030"}, clock=lambda: now[0], wall=lambda: 1700000000.0
    )
    assert deadline is not None and deadline.remaining() == 30
    now[0] += 31
    assert deadline.expired()
    assert Deadline.from_environ({}) is None
    with pytest.raises(ParameterError, match="SREWORKBOOK_SOURCES_DEADLINE: expected seconds"):
        Deadline.from_environ({RUN_DEADLINE_ENV: "soon"})


def test_a_clients_timeout_is_cut_to_what_remains_of_the_run() -> None:
    wall = lambda: 1700000000.0  # noqa: E731 - a fixed wall clock
    assert within_run(600.0, {}) == 600.0  # no run deadline: the client's own timeout
    assert within_run(600.0, {RUN_DEADLINE_ENV: "1700000030"}, wall=wall) == pytest.approx(30)
    assert within_run(3.0, {RUN_DEADLINE_ENV: "1700000030"}, wall=wall) == 3.0
    # past the deadline: the shortest timeout, so that the call fails as the timeout it is
    assert within_run(3.0, {RUN_DEADLINE_ENV: "1699999990"}, wall=wall) == MIN_TIMEOUT_S


def test_an_answer_to_a_call_sent_before_a_failure_does_not_close_the_breaker() -> None:
    breaker = Breaker(threshold=2)
    early = breaker.ticket("prom:9090")  # sent while the server was alive
    breaker.failed("prom:9090", "connection reset")
    breaker.succeeded("prom:9090", early)  # its answer arrives after the server died
    breaker.failed("prom:9090", "connection reset")
    assert breaker.refusal("prom:9090") == "connection reset (gave up after 2 failures in a row)"
    fresh = breaker.ticket("prom:9090")
    breaker.succeeded("prom:9090", fresh)  # sent after the failures: the server is back
    assert breaker.refusal("prom:9090") is None
