"""The request decisions of ``_policy``, with plain values: no server, no sockets.

Which origin is "ours", which headers a hop carries, where a redirect leads and with
which method, which requests may be replayed, what a lost answer means for a request
that must not be sent twice, and when a 404 to a DELETE counts as done.
"""

from __future__ import annotations

import pytest
from yarl import URL

from openproject_async._policy import (
    ApiRequest,
    OriginPolicy,
    deleted_before,
    hop_headers,
    is_loopback,
    origin_key,
    outcome_of,
    redirect,
    safe_url,
)
from openproject_async.errors import (
    ConnectionFailed,
    CrossOriginRefused,
    InvalidHref,
    OutcomeUnknown,
    ProtocolError,
    RequestTimeout,
    TimeoutOutcomeUnknown,
)

BASE = URL("https://op.example.com/openproject")
HOME = URL("https://op.example.com/api/v3/work_packages/1")
OTHER_PORT = URL("https://op.example.com:8443/api/v3/work_packages/1")


def resolve(url: URL) -> URL:
    if url.scheme not in ("http", "https"):
        raise InvalidHref(f"not http(s): {url}")
    return url


# -- origins -------------------------------------------------------------------------


def test_origin_key_treats_default_port_as_the_same_origin() -> None:
    assert origin_key(URL("https://Op.Example.com/x")) == ("https", "op.example.com", 443)
    assert origin_key(URL("https://op.example.com:443/")) == origin_key(
        URL("https://op.example.com")
    )
    assert origin_key(URL("http://op.example.com")) == ("http", "op.example.com", 80)


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("https://op.example.com/anything?x=1", True),
        ("https://OP.EXAMPLE.COM:443/api/v3", True),
        ("https://op.example.com:8443/api/v3", False),
        ("http://op.example.com/api/v3", False),
        ("https://evil.example.com/api/v3", False),
        ("https://op.example.com.evil.test/api/v3", False),
    ],
)
def test_same_origin_compares_scheme_host_and_port(url: str, same: bool) -> None:
    assert OriginPolicy(BASE, "refuse_writes").same_origin(URL(url)) is same


def test_refuse_writes_lets_reads_go_elsewhere_but_not_writes() -> None:
    policy = OriginPolicy(BASE, "refuse_writes")
    policy.check("GET", OTHER_PORT)
    policy.check("HEAD", OTHER_PORT)
    policy.check("DELETE", HOME)  # own origin: anything goes
    with pytest.raises(CrossOriginRefused) as info:
        policy.check("POST", OTHER_PORT, redirect_from=HOME)
    assert str(info.value) == (
        "refusing POST to https://op.example.com:8443/api/v3/work_packages/1 (redirected from "
        "https://op.example.com/api/v3/work_packages/1): not the configured server "
        "https://op.example.com (cross_origin='refuse_writes')"
    )


def test_refuse_refuses_reads_and_allow_allows_writes() -> None:
    with pytest.raises(CrossOriginRefused, match=r"^refusing GET to https://evil\.test/x: "):
        OriginPolicy(BASE, "refuse").check("GET", URL("https://evil.test/x"))
    OriginPolicy(BASE, "allow").check("PATCH", URL("https://evil.test/x"))


@pytest.mark.parametrize(
    ("host", "loop"),
    [
        ("localhost", True),
        ("api.localhost", True),
        ("LOCALHOST.", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("::1", True),
        ("localhost.example.com", False),
        ("10.0.0.1", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(host: str | None, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_safe_url_hides_user_info_and_secret_looking_query_values() -> None:
    url = URL("https://u:p@op.example.com/x?api_key=1&token=2&page=3&client_secret=4&Code=5")
    assert safe_url(url) == (
        "https://op.example.com/x?api_key=***&token=***&page=3&client_secret=***&Code=***"
    )


# -- headers per hop ---------------------------------------------------------------------


def test_own_origin_hop_gets_extras_and_caller_headers_and_json_type() -> None:
    hop = ApiRequest("POST", HOME, body=b"{}", headers={"X-Trace": "t1"})
    assert hop_headers(hop, own_origin=True, first_hop=True, extra={"X-Tenant": "a"}) == {
        "Accept": "application/hal+json, application/json",
        "X-Tenant": "a",
        "Content-Type": "application/json",
        "X-Trace": "t1",
    }


def test_foreign_hop_after_a_redirect_gets_neither_extras_nor_caller_headers() -> None:
    hop = ApiRequest("GET", OTHER_PORT, headers={"X-Trace": "t1", "Authorization": "Basic x"})
    assert hop_headers(hop, own_origin=False, first_hop=False, extra={"X-Tenant": "a"}) == {
        "Accept": "application/hal+json, application/json"
    }


def test_first_hop_to_a_foreign_origin_keeps_caller_headers_but_never_credentials() -> None:
    hop = ApiRequest(
        "GET",
        OTHER_PORT,
        headers={
            "X-Trace": "t1",
            "authorization": "Bearer x",
            "Cookie": "s=1",
            "Proxy-Authorization": "y",
        },
    )
    assert hop_headers(hop, own_origin=False, first_hop=True, extra={"X-Tenant": "a"}) == {
        "Accept": "application/hal+json, application/json",
        "X-Trace": "t1",
    }


def test_bodiless_write_is_json_but_raw_data_and_reads_are_not() -> None:
    extra: dict[str, str] = {}
    patch = hop_headers(ApiRequest("PATCH", HOME), own_origin=True, first_hop=True, extra=extra)
    assert patch["Content-Type"] == "application/json"
    get = hop_headers(ApiRequest("GET", HOME), own_origin=True, first_hop=True, extra=extra)
    assert "Content-Type" not in get
    raw = ApiRequest("POST", HOME, data=b"x", headers={"Content-Type": "text/plain"})
    assert hop_headers(raw, own_origin=True, first_hop=True, extra=extra)["Content-Type"] == (
        "text/plain"
    )
    upload = ApiRequest("POST", HOME, data=b"x")
    assert "Content-Type" not in hop_headers(upload, own_origin=True, first_hop=True, extra=extra)


# -- redirects ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 204, 304, 404, 300])
def test_not_a_redirect(status: int) -> None:
    assert redirect(ApiRequest("GET", HOME), status, "/elsewhere", resolve) is None


def test_redirect_without_location_is_the_answer_itself() -> None:
    assert redirect(ApiRequest("GET", HOME), 302, None, resolve) is None
    assert redirect(ApiRequest("GET", HOME), 302, "", resolve) is None


@pytest.mark.parametrize("status", [301, 302, 303])
def test_post_redirected_by_301_302_303_becomes_a_bodiless_get(status: int) -> None:
    hop = ApiRequest("POST", HOME, body=b'{"a":1}', data=None, headers={"X": "1"}, retry=True)
    nxt = redirect(hop, status, "/api/v3/other?x=1", resolve)
    assert nxt == ApiRequest(
        "GET",
        URL("https://op.example.com/api/v3/other?x=1"),
        body=None,
        data=None,
        headers={"X": "1"},
        retry=True,
    )


@pytest.mark.parametrize("status", [307, 308])
def test_307_308_keep_method_and_body(status: int) -> None:
    hop = ApiRequest("PATCH", HOME, body=b'{"a":1}')
    nxt = redirect(hop, status, "https://op.example.com:8443/x", resolve)
    assert nxt == ApiRequest("PATCH", URL("https://op.example.com:8443/x"), body=b'{"a":1}')


def test_get_stays_get_and_relative_location_resolves_against_the_hop() -> None:
    hop = ApiRequest("GET", URL("https://op.example.com/api/v3/work_packages/1"))
    nxt = redirect(hop, 301, "2", resolve)
    assert nxt is not None
    assert (nxt.method, str(nxt.url)) == ("GET", "https://op.example.com/api/v3/work_packages/2")


def test_unusable_location_is_a_protocol_error_naming_it() -> None:
    with pytest.raises(ProtocolError) as info:
        redirect(ApiRequest("GET", HOME), 302, "ftp://files.test/x", resolve)
    assert info.value.status == 302
    assert info.value.url == str(HOME)
    assert "redirect to an unusable Location 'ftp://files.test/x'" in str(info.value)


# -- replays and outcomes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("req", "replayable"),
    [
        (ApiRequest("GET", HOME), True),
        (ApiRequest("HEAD", HOME), True),
        (ApiRequest("DELETE", HOME), True),
        (ApiRequest("OPTIONS", HOME), True),
        (ApiRequest("POST", HOME.with_path("/api/v3/work_packages/form")), True),
        (ApiRequest("POST", HOME.with_path("/api/v3/work_packages/form/")), True),
        (ApiRequest("POST", HOME.with_path("/api/v3/work_packages")), False),
        (ApiRequest("POST", HOME.with_path("/api/v3/formats")), False),
        (ApiRequest("PATCH", HOME), False),
        (ApiRequest("PATCH", HOME, retry=True), True),
        (ApiRequest("GET", HOME, retry=False), False),
        (ApiRequest("POST", HOME, retry=True, data=b"bytes"), True),
        (ApiRequest("POST", HOME, retry=True, data="text"), True),
        (ApiRequest("POST", HOME, retry=True, data=bytearray(b"x")), True),
        (ApiRequest("POST", HOME, retry=True, data=iter([b"stream"])), False),
        (ApiRequest("GET", HOME, data=object()), False),
    ],
)
def test_replayable(req: ApiRequest, replayable: bool) -> None:
    assert req.replayable is replayable


def test_payload_is_the_json_body_else_the_raw_data() -> None:
    assert ApiRequest("POST", HOME, body=b"{}", data=b"raw").payload == b"{}"
    assert ApiRequest("POST", HOME, data=b"raw").payload == b"raw"
    assert ApiRequest("GET", HOME).payload is None


def test_lost_answer_of_a_create_is_outcome_unknown() -> None:
    create = ApiRequest("POST", HOME.with_path("/api/v3/work_packages"))
    lost = ConnectionFailed("POST https://op.example.com/api/v3/work_packages: connection lost (X)")
    got = outcome_of(lost, create, replayable=False)
    assert type(got) is OutcomeUnknown
    assert got.method == "POST"
    assert got.url == "https://op.example.com/api/v3/work_packages"
    assert str(got) == (
        "POST https://op.example.com/api/v3/work_packages: connection lost (X) after the "
        "request was sent; the server may have carried it out - check before sending it again"
    )


def test_timeout_of_a_create_is_both_timeout_and_outcome_unknown() -> None:
    create = ApiRequest("POST", HOME)
    slow = RequestTimeout("POST x: no answer after 2s")
    slow.timeout = 2.0
    got = outcome_of(slow, create, replayable=False)
    assert type(got) is TimeoutOutcomeUnknown
    assert got.timeout == 2.0
    assert "no answer after 2s after the request was sent" in str(got)
    assert got.transient is False


def test_cut_off_answer_of_a_create_keeps_the_status() -> None:
    cut = ProtocolError("the answer was cut off", status=201)
    cut.transient = True
    got = outcome_of(cut, ApiRequest("POST", HOME), replayable=False)
    assert type(got) is OutcomeUnknown
    assert got.status == 201
    assert "answered 201 but the answer was cut off" in str(got)


def test_failures_of_replayable_or_unsent_requests_stay_as_they_are() -> None:
    lost = ConnectionFailed("lost")
    assert outcome_of(lost, ApiRequest("GET", HOME), replayable=True) is lost
    refused = ConnectionFailed("refused", before_send=True)
    assert outcome_of(refused, ApiRequest("POST", HOME), replayable=False) is refused
    plain = ProtocolError("not JSON")  # not transient: the answer arrived whole
    assert outcome_of(plain, ApiRequest("POST", HOME), replayable=False) is plain


def test_only_a_retried_delete_takes_404_as_done() -> None:
    delete = ApiRequest("DELETE", HOME)
    assert deleted_before(delete, 404, attempt=2) is True
    assert deleted_before(delete, 404, attempt=1) is False
    assert deleted_before(delete, 410, attempt=2) is False
    assert deleted_before(ApiRequest("GET", HOME), 404, attempt=3) is False
