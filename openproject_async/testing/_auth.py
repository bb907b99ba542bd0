"""Authentication: Basic ``apikey:<key>``, Bearer API tokens, OAuth client credentials."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from ._data import OAuthToken, User
from ._errors import ApiError
from ._http import ServerState, state_of

NEED_AUTH = "You need to be authenticated to access this resource."
WRONG_CREDENTIALS = "You did not provide the correct credentials."


def unauthenticated(request: web.Request, message: str) -> ApiError:
    scheme = request.headers.get("X-Authentication-Scheme") or "Basic"
    return ApiError(
        401,
        "Unauthenticated",
        message,
        headers={"WWW-Authenticate": f'{scheme} realm="OpenProject API"'},
    )


def authenticate(request: web.Request, state: ServerState) -> User:
    """The user of the request, or raise 401 (login is required on this instance)."""
    header = request.headers.get("Authorization")
    if not header:
        raise unauthenticated(request, NEED_AUTH)
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    store = state.store
    user_id: int | None = None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        username, sep, password = decoded.partition(":")
        if sep and username == "apikey":
            user_id = store.api_keys.get(password)
    elif scheme.lower() == "bearer":
        user_id = store.api_tokens.get(credentials)
        if user_id is None:
            token = store.oauth_tokens.get(credentials)
            if token is not None and time.time() < token.created_at + token.expires_in:
                user_id = token.user_id
    user = store.users.get(user_id) if user_id is not None else None
    if user is None or user.status != "active":
        raise unauthenticated(request, WRONG_CREDENTIALS)
    return user


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.Response(
        body=orjson.dumps({"error": error, "error_description": description}),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


async def oauth_token(request: web.Request) -> web.Response:
    """``POST /oauth/token`` (Doorkeeper): the client credentials grant."""
    state = state_of(request)
    content_type = request.headers.get("Content-Type", "")
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return _oauth_error(
            400,
            "invalid_request",
            "The request is missing a required parameter, includes an unsupported parameter "
            "value, or is otherwise malformed. Content-Type must be "
            "application/x-www-form-urlencoded.",
        )
    raw = (await request.read()).decode("utf-8", "replace")
    form = dict(parse_qsl(raw, keep_blank_values=True))
    client_id = form.get("client_id")
    client_secret = form.get("client_secret")
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            client_id, _, client_secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id = client_secret = None
    grant_type = form.get("grant_type")
    if not grant_type:
        return _oauth_error(400, "invalid_request", "Missing required parameter: grant_type.")
    app = state.store.oauth_apps.get(client_id or "")
    if app is None or not secrets.compare_digest(app.client_secret, client_secret or ""):
        return _oauth_error(
            401,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication "
            "included, or unsupported authentication method.",
        )
    if grant_type != "client_credentials":
        return _oauth_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        )
    scope = form.get("scope") or "api_v3"
    if any(s not in app.scopes.split() for s in scope.split()):
        return _oauth_error(
            400,
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed.",
        )
    now = time.time()
    token = OAuthToken(
        token=secrets.token_urlsafe(32),
        user_id=app.user_id,
        scope=scope,
        created_at=now,
        expires_in=state.config.token_lifetime,
    )
    state.store.oauth_tokens[token.token] = token
    return web.Response(
        body=orjson.dumps(
            {
                "access_token": token.token,
                "token_type": "Bearer",
                "expires_in": token.expires_in,
                "scope": scope,
                "created_at": int(now),
            }
        ),
        content_type="application/json",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
