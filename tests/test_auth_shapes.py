"""What a credential's shape says (the hints after a 401) and the plain-http token warning."""

from __future__ import annotations

import warnings

import pytest

from openproject_async import ApiKey, BearerToken, OAuthClientCredentials
from openproject_async.errors import InsecureTransportWarning

HEX = "0123456789abcdef"
KEY_HINT = (
    "hint: this token looks like an API key (hex, no 'opapi-' prefix); pass it as "
    "api_key= (sent as Basic auth with the user 'apikey')"
)
BEARER_HINT = (
    "hint: this api_key looks like an OAuth access token or JWT; pass it as token= (sent as Bearer)"
)


@pytest.mark.parametrize(
    ("token", "hinted"),
    [
        ((HEX * 3)[:40], True),
        ((HEX * 4)[:64], True),
        ((HEX * 3)[:40].upper(), True),
        ((HEX * 3)[:39], False),
        ((HEX * 3)[:41], False),
        ("g" * 40, False),
        ("opapi-" + (HEX * 3)[:34], False),
    ],
)
def test_a_token_shaped_like_an_api_key_gets_a_hint(token: str, hinted: bool) -> None:
    assert BearerToken(token).hint == (KEY_HINT if hinted else None)


@pytest.mark.parametrize(
    ("key", "hinted"),
    [
        ("eyJhbGciOi.eyJzdWIi.c2ln", True),
        ("Bearer abc", True),
        ("eyJhbGciOi", False),  # no dots: not a JWT
        ("eyJa.b", False),  # one dot
        ("a.b.c", False),  # dots, but not a JWT header
        ("bearer abc", False),
        ((HEX * 3)[:40], False),
    ],
)
def test_an_api_key_shaped_like_a_bearer_token_gets_a_hint(key: str, hinted: bool) -> None:
    assert ApiKey(key).hint == (BEARER_HINT if hinted else None)


def test_a_plain_http_token_url_elsewhere_warns() -> None:
    with pytest.warns(InsecureTransportWarning) as caught:
        OAuthClientCredentials("id", "secret", token_url="http://idp.example/oauth/token?x=1")
    assert [str(w.message) for w in caught] == [
        "OAuth token URL http://idp.example/oauth/token is plain http: the client secret "
        "and the tokens travel unencrypted"
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://idp.example/oauth/token",
        "http://localhost:8080/oauth/token",
        "http://127.0.0.1/t",
        None,
    ],
)
def test_https_loopback_or_the_default_token_url_do_not_warn(url: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OAuthClientCredentials("id", "secret", token_url=url)
