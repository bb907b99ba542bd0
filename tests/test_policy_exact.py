"""_policy and _retry, exactly: origins, hop headers, redirects, replays, outcomes, waits.

Written against mutation testing (README, "Development"): plain values in, exact values out.
"""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import pytest
from yarl import URL

from openproject_async._policy import (
    CROSS_ORIGIN_POLICIES,
    MAX_REDIRECTS,
    REDIRECTS,
    ApiRequest,
    OriginPolicy,
    Timeouts,
    deleted_before,
    hop_headers,
    is_loopback,
    origin_key,
    outcome_of,
    redirect,
    safe_url,
)
from openproject_async._retry import (
    FORM_PATH_END,
    IDEMPOTENT_METHODS,
    RetryPolicy,
    describe,
    is_form_url,
    wait_hint,
)
from openproject_async.errors import (
    APIError,
    ConnectionFailed,
    CrossOriginRefused,
    InvalidHref,
    NotFound,
    OutcomeUnknown,
    ProtocolError,
    RequestTimeout,
    TimeoutOutcomeUnknown,
    TooManyRequests,
    TransportError,
)

BASE = URL("https://op.test/sub")


def req(method: str = "GET", url: str = "https://op.test/api/v3/x", **kw: Any) -> ApiRequest:
    return ApiRequest(method, URL(url), **kw)


# -- constants, safe_url, loopback, origins ---------------------------------------------


def test_constants() -> None:
    assert frozenset({301, 302, 303, 307, 308}) == REDIRECTS
    assert MAX_REDIRECTS == 10
    assert CROSS_ORIGIN_POLICIES == ("refuse_writes", "refuse", "allow")
    assert frozenset({"GET", "HEAD", "OPTIONS", "DELETE"}) == IDEMPOTENT_METHODS
    assert FORM_PATH_END == "/form"
    assert Timeouts() == Timeouts(None, None, None)


def test_safe_url_hides_user_info_and_secret_query_values() -> None:
    url = URL(
        "https://u:p@h.test/a?token=1&apiKey=2&my_secret=3&Password=4&signature=5&code=6"
        "&authx=7&page=8&q=key"
    )
    assert safe_url(url) == (
        "https://h.test/a?token=***&apiKey=***&my_secret=***&Password=***&signature=***"
        "&code=***&authx=***&page=8&q=key"
    )
    assert safe_url(URL("https://h.test/a")) == "https://h.test/a"
    assert safe_url(URL("https://u@h.test/a?x=1")) == "https://h.test/a?x=1"


@pytest.mark.parametrize(
    ("host", "loop"),
    [
        (None, False),
        ("", False),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("api.localhost", True),
        ("notlocalhost", False),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("[::1]", True),
        ("::1", True),
        ("10.0.0.1", False),
        ("op.test", False),
    ],
)
def test_is_loopback(host: str | None, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_origin_key() -> None:
    assert origin_key(URL("HTTPS://Op.Test/a")) == ("https", "op.test", 443)
    assert origin_key(URL("http://op.test:8080/")) == ("http", "op.test", 8080)
    assert origin_key(URL("/relative")) == ("", "", None)


def test_origin_policy_same_origin() -> None:
    p = OriginPolicy(BASE, "refuse_writes")
    assert p.origin == URL("https://op.test")
    assert p.policy == "refuse_writes"
    assert p.same_origin(URL("https://op.test:443/other"))
    assert p.same_origin(URL("https://OP.test/"))
    assert not p.same_origin(URL("http://op.test/"))
    assert not p.same_origin(URL("https://op.test:8443/"))
    assert not p.same_origin(URL("https://evil.test/"))


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_refuse_writes_lets_reads_go_elsewhere(method: str) -> None:
    OriginPolicy(BASE, "refuse_writes").check(method, URL("https://cdn.test/f"))


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE", "PUT", "OPTIONS"])
def test_refuse_writes_refuses_writes_elsewhere(method: str) -> None:
    p = OriginPolicy(BASE, "refuse_writes")
    p.check(method, URL("https://op.test/api/v3/x"))
    with pytest.raises(CrossOriginRefused) as info:
        p.check(method, URL("https://cdn.test/f?token=s"))
    assert str(info.value) == (
        f"refusing {method} to https://cdn.test/f?token=***: not the configured server "
        "https://op.test (cross_origin='refuse_writes')"
    )


def test_refuse_refuses_everything_elsewhere_and_names_the_redirect() -> None:
    p = OriginPolicy(BASE, "refuse")
    p.check("GET", URL("https://op.test/x"))
    with pytest.raises(CrossOriginRefused) as info:
        p.check("GET", URL("https://cdn.test/f"), redirect_from=URL("https://op.test/a?key=k"))
    assert str(info.value) == (
        "refusing GET to https://cdn.test/f (redirected from https://op.test/a?key=***): "
        "not the configured server https://op.test (cross_origin='refuse')"
    )


def test_allow_allows_everything() -> None:
    OriginPolicy(BASE, "allow").check("DELETE", URL("https://cdn.test/f"))


# -- ApiRequest ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "replayable"),
    [
        (req("GET"), True),
        (req("HEAD"), True),
        (req("OPTIONS"), True),
        (req("DELETE"), True),
        (req("PATCH"), False),
        (req("PUT"), False),
        (req("POST"), False),
        (req("POST", "https://op.test/api/v3/work_packages/form"), True),
        (req("POST", "https://op.test/api/v3/work_packages/form/"), True),
        (req("POST", "https://op.test/api/v3/platform"), False),
        (req("PATCH", "https://op.test/api/v3/x/form"), False),
        (req("POST", retry=True), True),
        (req("GET", retry=False), False),
        (req("POST", "https://op.test/x/form", retry=False), False),
        (req("GET", data=b"x"), True),
        (req("GET", data=bytearray(b"x")), True),
        (req("GET", data="x"), True),
        (req("GET", data=iter([b"x"])), False),
        (req("POST", retry=True, data=object()), False),
        (req("POST", retry=True, body=b"{}"), True),
    ],
)
def test_replayable(request_: ApiRequest, replayable: bool) -> None:
    assert request_.replayable is replayable


def test_payload() -> None:
    assert req(body=b"{}", data=b"raw").payload == b"{}"
    assert req(data=b"raw").payload == b"raw"
    assert req().payload is None
    assert req(body=b"").payload == b""


# -- hop_headers --------------------------------------------------------------------------

EXTRA = {"Authorization": "Basic s", "X-Tenant": "t"}


def test_hop_headers_own_origin_get() -> None:
    assert hop_headers(req(), own_origin=True, first_hop=True, extra=EXTRA) == {
        "Accept": "application/hal+json, application/json",
        "Authorization": "Basic s",
        "X-Tenant": "t",
    }


def test_hop_headers_content_type() -> None:
    def ctype(r: ApiRequest) -> str | None:
        return hop_headers(r, own_origin=True, first_hop=True, extra={}).get("Content-Type")

    assert ctype(req("POST", body=b"{}")) == "application/json"
    assert ctype(req("GET", body=b"{}")) == "application/json"
    assert ctype(req("DELETE")) == "application/json"
    assert ctype(req("POST")) == "application/json"
    assert ctype(req("GET")) is None
    assert ctype(req("HEAD")) is None
    assert ctype(req("POST", data=b"raw")) is None


def test_hop_headers_caller_headers_override_and_go_to_the_first_hop() -> None:
    r = req("POST", body=b"{}", headers={"Content-Type": "text/plain", "X-Req": "1"})
    assert hop_headers(r, own_origin=True, first_hop=False, extra=EXTRA) == {
        "Accept": "application/hal+json, application/json",
        "Authorization": "Basic s",
        "X-Tenant": "t",
        "Content-Type": "text/plain",
        "X-Req": "1",
    }
    # another origin, first hop: the caller's own headers, not the session's
    assert hop_headers(r, own_origin=False, first_hop=True, extra=EXTRA) == {
        "Accept": "application/hal+json, application/json",
        "Content-Type": "text/plain",
        "X-Req": "1",
    }
    # another origin after a redirect: neither
    assert hop_headers(r, own_origin=False, first_hop=False, extra=EXTRA) == {
        "Accept": "application/hal+json, application/json",
        "Content-Type": "application/json",
    }


def test_credentials_never_leave_the_own_origin() -> None:
    r = req(headers={"authorization": "x", "Cookie": "c", "Proxy-Authorization": "p", "A": "1"})
    assert hop_headers(r, own_origin=False, first_hop=True, extra={}) == {
        "Accept": "application/hal+json, application/json",
        "A": "1",
    }
    assert hop_headers(r, own_origin=True, first_hop=True, extra={}) == {
        "Accept": "application/hal+json, application/json",
        "authorization": "x",
        "Cookie": "c",
        "Proxy-Authorization": "p",
        "A": "1",
    }


# -- redirect ---------------------------------------------------------------------------


def _same(url: URL) -> URL:
    return url


@pytest.mark.parametrize("status", [200, 300, 304, 305, 306, 309, 404])
def test_not_a_redirect(status: int) -> None:
    assert redirect(req(), status, "/elsewhere", _same) is None


@pytest.mark.parametrize("status", sorted(REDIRECTS))
def test_redirect_without_location_is_the_answer(status: int) -> None:
    assert redirect(req(), status, None, _same) is None
    assert redirect(req(), status, "", _same) is None


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_reads_keep_their_method(status: int, method: str) -> None:
    hop = redirect(req(method, headers={"A": "1"}), status, "../y?z=1", _same)
    assert hop == req(method, "https://op.test/api/y?z=1", headers={"A": "1"})


@pytest.mark.parametrize("status", [301, 302, 303])
def test_writes_become_bodiless_gets(status: int) -> None:
    hop = redirect(req("POST", body=b"{}", data=b"d", retry=True), status, "/z", _same)
    assert hop == req("GET", "https://op.test/z", retry=True)


@pytest.mark.parametrize("status", [307, 308])
def test_307_308_keep_method_and_body(status: int) -> None:
    r = req("PATCH", body=b"{}", data=b"d")
    hop = redirect(r, status, "https://other.test/z", _same)
    assert hop == req("PATCH", "https://other.test/z", body=b"{}", data=b"d")


def test_redirect_target_is_resolved() -> None:
    hop = redirect(req(), 302, "/z", lambda u: u.with_host("resolved.test"))
    assert hop is not None
    assert str(hop.url) == "https://resolved.test/z"


@pytest.mark.parametrize("error", [InvalidHref("bad"), ValueError("bad")])
def test_unusable_location(error: Exception) -> None:
    def refuse(url: URL) -> URL:
        raise error

    long = "/x" * 150
    with pytest.raises(ProtocolError) as info:
        redirect(req(url="https://op.test/a?token=t"), 302, long, refuse)
    e = info.value
    assert (e.status, e.url) == (302, "https://op.test/a?token=***")
    assert str(e).startswith(f"redirect to an unusable Location {long[:200]!r}; status 302")
    assert e.__suppress_context__ is True


# -- deleted_before / outcome_of ---------------------------------------------------------


def test_deleted_before() -> None:
    assert deleted_before(req("DELETE"), 404, 2) is True
    assert deleted_before(req("DELETE"), 404, 1) is False
    assert deleted_before(req("DELETE"), 410, 2) is False
    assert deleted_before(req("GET"), 404, 2) is False


def test_outcome_of_keeps_failures_of_replayable_or_unsent_requests() -> None:
    post = req("POST", url="https://op.test/api/v3/x?key=s")
    lost = ConnectionFailed("broken")
    assert outcome_of(lost, post, replayable=True) is lost
    unsent = ConnectionFailed("refused", before_send=True)
    assert outcome_of(unsent, post, replayable=False) is unsent
    other = NotFound(404, None, "x")
    assert outcome_of(other, post, replayable=False) is other
    whole = ProtocolError("bad json", status=200)
    assert outcome_of(whole, post, replayable=False) is whole


def test_outcome_of_a_timeout() -> None:
    exc = RequestTimeout("slow")
    exc.timeout = 2.5
    out = outcome_of(exc, req("POST", url="https://op.test/a?token=s"), replayable=False)
    assert type(out) is TimeoutOutcomeUnknown
    assert str(out) == (
        "POST https://op.test/a?token=***: no answer after 2.5s after the request was sent; "
        "the server may have carried it out - check before sending it again"
    )
    assert (out.url, out.method, out.timeout) == ("https://op.test/a?token=***", "POST", 2.5)
    none = outcome_of(RequestTimeout("slow"), req("PATCH"), replayable=False)
    assert str(none) == (
        "PATCH https://op.test/api/v3/x: no answer after the request was sent; "
        "the server may have carried it out - check before sending it again"
    )
    assert none.timeout is None  # type: ignore[attr-defined]


def test_outcome_of_a_cut_answer() -> None:
    cut = ProtocolError("cut", status=201)
    cut.transient = True
    out = outcome_of(cut, req("POST"), replayable=False)
    assert type(out) is OutcomeUnknown
    assert str(out) == (
        "POST https://op.test/api/v3/x: the server answered 201 but the answer was cut off; "
        "it may have carried the request out - check before sending it again"
    )
    assert (out.status, out.method, out.url) == (201, "POST", "https://op.test/api/v3/x")


def test_outcome_of_a_broken_connection() -> None:
    out = outcome_of(ConnectionFailed("connection reset"), req("POST"), replayable=False)
    assert type(out) is OutcomeUnknown
    assert str(out) == (
        "connection reset after the request was sent; the server may have carried it out - "
        "check before sending it again"
    )
    assert (out.method, out.url) == ("POST", "https://op.test/api/v3/x")


# -- _retry -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "form"),
    [("/a/form", True), ("/a/form/", True), ("/a/forms", False), ("/a/form/x", False)],
)
def test_is_form_url(path: str, form: bool) -> None:
    assert is_form_url(path) is form


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({}, None),
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": " 2.5 "}, 2.5),
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "Tue, 14 Nov 2023 22:13:40 GMT"}, 20.0),
        ({"Retry-After": "Tue, 14 Nov 2023 22:13:00 GMT"}, 0.0),
        ({"RateLimit-Reset": str(int(NOW) + 7)}, 7.0),
        ({"RateLimit-Reset": "1000000000"}, 3600.0),  # delta seconds, capped at MAX_RETRY_AFTER
        ({"RateLimit-Reset": "1000000001"}, 0.0),
        ({"RateLimit-Reset": "12"}, 12.0),
        ({"Retry-After": "x", "RateLimit-Reset": "5"}, 5.0),
        ({"Retry-After": "1", "RateLimit-Reset": "5"}, 1.0),
    ],
)
def test_wait_hint(headers: dict[str, str], wait: float | None) -> None:
    assert wait_hint(headers, now=NOW) == wait


def test_wait_hint_uses_the_clock_by_default() -> None:
    assert wait_hint({"Retry-After": "4"}) == 4.0


def test_retry_policy_defaults() -> None:
    p = RetryPolicy()
    assert (p.attempts, p.deadline, p.backoff, p.max_backoff, p.max_wait_hint) == (
        5,
        60.0,
        0.2,
        10.0,
        30.0,
    )
    assert p.statuses == frozenset({429, 502, 503, 504})
    assert p.retry_timeouts is True
    assert RetryPolicy(statuses=[500]).statuses == frozenset({500})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"attempts": 1.5}, TypeError, "attempts must be an int, got float"),
        ({"attempts": True}, TypeError, "attempts must be an int, got bool"),
        ({"attempts": 0}, ValueError, "attempts must be at least 1, got 0"),
        ({"deadline": "1"}, TypeError, "deadline must be a number of seconds, got '1'"),
        ({"backoff": True}, TypeError, "backoff must be a number of seconds, got True"),
        ({"max_backoff": -1}, ValueError, "max_backoff must be >= 0 seconds, got -1"),
        (
            {"max_wait_hint": float("nan")},
            ValueError,
            "max_wait_hint must be >= 0 seconds, got nan",
        ),
        ({"statuses": {99}}, ValueError, "statuses must be HTTP status codes, got [99]"),
        ({"statuses": {600}}, ValueError, "statuses must be HTTP status codes, got [600]"),
        ({"statuses": {"429"}}, ValueError, "statuses must be HTTP status codes, got ['429']"),
    ],
)
def test_retry_policy_checks(kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error) as info:
        RetryPolicy(**kwargs)
    assert str(info.value) == message


def test_retry_policy_bounds_are_accepted() -> None:
    p = RetryPolicy(attempts=1, deadline=0, backoff=0, max_backoff=0, max_wait_hint=0.0)
    assert p.attempts == 1
    assert RetryPolicy(statuses={100, 599}).statuses == frozenset({100, 599})


def _transport(cls: type[TransportError], **kw: Any) -> TransportError:
    return cls("x", **kw)


@pytest.mark.parametrize(
    ("exc", "replayable", "retry"),
    [
        (_transport(ConnectionFailed, before_send=True), False, True),
        (_transport(ConnectionFailed, before_send=True, transient=False), True, False),
        (_transport(ConnectionFailed), True, True),
        (_transport(ConnectionFailed), False, False),
        (_transport(RequestTimeout), True, True),
        (_transport(RequestTimeout), False, False),
        (_transport(TransportError), True, False),  # not transient
        (APIError(503, None, "x"), True, True),
        (APIError(503, None, "x"), False, False),
        (APIError(500, None, "x"), True, False),
        (TooManyRequests(429, None, "x"), True, True),
        (ProtocolError("html", status=502), True, True),
        (ProtocolError("html", status=200), True, False),
        (ProtocolError("html"), True, False),
        (ValueError("x"), True, False),
        (CrossOriginRefused("x"), True, False),
    ],
)
def test_retryable_error(exc: BaseException, replayable: bool, retry: bool) -> None:
    assert RetryPolicy().retryable_error(exc, replayable=replayable) is retry


def test_transient_errors_are_retried_when_replayable() -> None:
    cut = ProtocolError("cut", status=200)
    cut.transient = True
    assert RetryPolicy().retryable_error(cut, replayable=True) is True
    assert RetryPolicy().retryable_error(cut, replayable=False) is False


def test_timeouts_only_when_asked() -> None:
    p = RetryPolicy(retry_timeouts=False)
    assert p.retryable_error(_transport(RequestTimeout), replayable=True) is False
    assert p.retryable_error(_transport(RequestTimeout, before_send=True), replayable=True)
    assert p.retryable_error(_transport(ConnectionFailed), replayable=True) is True


def test_delay_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[float, float]] = []

    def uniform(a: float, b: float) -> float:
        calls.append((a, b))
        return b

    monkeypatch.setattr(random, "uniform", uniform)
    p = RetryPolicy(backoff=0.5, max_wait_hint=30)
    exc = TooManyRequests(429, None, "x")
    exc.retry_after = 40
    assert p.delay(exc, 1) == 30.5
    exc.retry_after = 3
    assert p.delay(exc, 1) == 3.5
    assert calls == [(0, 0.5), (0, 0.5)]


@pytest.mark.parametrize(
    ("attempt", "upper"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 5.0), (100, 5.0)]
)
def test_delay_backoff(monkeypatch: pytest.MonkeyPatch, attempt: int, upper: float) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: (a, b))
    p = RetryPolicy(backoff=0.5, max_backoff=5)
    assert p.delay(APIError(503, None, "x"), attempt) == (0, upper)
    assert p.delay(None, attempt) == (0, upper)
    assert p.delay(ValueError("x"), attempt) == (0, upper)


def _state(attempt: int, upcoming: float, since: float | None = None, exc: Any = None) -> Any:
    outcome = None if exc is None else SimpleNamespace(exception=lambda: exc)
    return SimpleNamespace(
        attempt_number=attempt, upcoming_sleep=upcoming, seconds_since_start=since, outcome=outcome
    )


def test_stop() -> None:
    p = RetryPolicy(attempts=3, deadline=10)
    assert p.stop_after(_state(3, 0), 0) is True
    assert p.stop_after(_state(2, 0), 0) is False
    assert p.stop_after(_state(2, 4), 6) is True
    assert p.stop_after(_state(2, 4), 5.9) is False
    assert p.stop(_state(1, 1, since=9.5)) is True
    assert p.stop(_state(1, 1, since=None)) is False


def test_wait_reads_the_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: b)
    p = RetryPolicy(backoff=1, max_backoff=100)
    hinted = TooManyRequests(429, None, "x")
    hinted.retry_after = 7
    assert p.wait(_state(1, 0, exc=hinted)) == 8
    assert p.wait(_state(3, 0)) == 4


def test_describe() -> None:
    assert describe(NotFound(404, None, "x")) == "NotFound 404"
    assert describe(ProtocolError("x")) == "ProtocolError"
    assert describe(ConnectionFailed("x")) == "ConnectionFailed"
    assert describe(SimpleNamespace(status=5)) == "SimpleNamespace"  # type: ignore[arg-type]


# -- what mutation testing found untested ------------------------------------------------


def test_loopback_names_are_not_trimmed_of_other_characters() -> None:
    assert is_loopback("Xlocalhost") is False


def test_a_redirected_read_keeps_its_body() -> None:
    hop = redirect(req("GET", data=b"x"), 302, "/z", _same)
    assert hop == req("GET", "https://op.test/z", data=b"x")


def test_form_url_compares_the_path_as_it_is() -> None:
    assert is_form_url("/a/formX") is False


def test_backoff_exponent_is_capped_at_62(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: b)
    assert RetryPolicy(backoff=1, max_backoff=2.0**70).delay(None, 100) == 2.0**62


def test_stop_without_a_start_time_counts_zero_seconds() -> None:
    p = RetryPolicy(attempts=5, deadline=10)
    assert p.stop(_state(1, 9.5, since=None)) is False
    assert p.stop(_state(1, 9.5, since=0.0)) is False
