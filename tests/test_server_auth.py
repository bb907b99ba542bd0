"""Authentication, request rules (406/415/400/404) and permissions of the fake server."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from openproject_async.testing import FakeOpenProject

ME = "/api/v3/users/me"
WWW_AUTH = 'Basic realm="OpenProject API"'


async def fetch(
    server: FakeOpenProject, method: str, path: str, *, login: str | None = "admin", **kw: Any
) -> tuple[int, aiohttp.typedefs.LooseHeaders, Any]:
    async with server.http(login) as http, http.request(method, path, **kw) as resp:
        text = await resp.text()
        body: Any = text
        if resp.content_type in ("application/hal+json", "application/json") and text:
            body = await resp.json(content_type=None)
        return resp.status, resp.headers, body


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(user, password)}


# ---------------------------------------------------------------------------------------------
# Authentication


async def test_api_key_basic_auth(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    for login, user_id in server.users.items():
        headers = basic("apikey", server.api_keys[login])
        status, _, body = await fetch(server, "GET", ME, login=None, headers=headers)
        assert status == 200
        assert body["id"] == user_id
    assert server.api_key == server.api_keys["admin"]
    assert set(server.api_keys) >= {"admin", "member", "reader"}


async def test_missing_credentials(openproject_server: FakeOpenProject) -> None:
    status, headers, body = await fetch(openproject_server, "GET", "/api/v3", login=None)
    assert status == 401
    assert headers["WWW-Authenticate"] == WWW_AUTH
    assert body == {
        "_type": "Error",
        "errorIdentifier": "urn:openproject-org:api:v3:errors:Unauthenticated",
        "message": "You need to be authenticated to access this resource.",
    }


@pytest.mark.parametrize(
    "headers",
    [
        basic("admin", "wrong"),
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Token abc"},
        {"Authorization": "Basic !!!"},
    ],
)
async def test_wrong_credentials(openproject_server: FakeOpenProject, headers: Any) -> None:
    status, resp_headers, body = await fetch(
        openproject_server, "GET", ME, login=None, headers=headers
    )
    assert status == 401
    assert resp_headers["WWW-Authenticate"] == WWW_AUTH
    assert body["message"] == "You did not provide the correct credentials."


async def test_login_name_with_api_key_is_rejected(openproject_server: FakeOpenProject) -> None:
    headers = basic("admin", openproject_server.api_key)
    status, _, _ = await fetch(openproject_server, "GET", ME, login=None, headers=headers)
    assert status == 401


async def test_authentication_scheme_header(openproject_server: FakeOpenProject) -> None:
    headers = {"X-Authentication-Scheme": "Session"}
    _, resp_headers, _ = await fetch(openproject_server, "GET", ME, login=None, headers=headers)
    assert resp_headers["WWW-Authenticate"] == 'Session realm="OpenProject API"'


async def test_bearer_api_token(openproject_server: FakeOpenProject) -> None:
    token = openproject_server.api_token
    assert token.startswith("opapi-")
    headers = {"Authorization": f"Bearer {token}"}
    status, _, body = await fetch(openproject_server, "GET", ME, login=None, headers=headers)
    assert (status, body["id"]) == (200, 1)


async def oauth(server: FakeOpenProject, **kw: Any) -> tuple[int, Any]:
    path = server.base_path + "/oauth/token"
    async with server.http(None) as http, http.post(path, **kw) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_oauth_client_credentials_and_expiry() -> None:
    async with FakeOpenProject(seed_size=3, token_lifetime=60) as server:
        form = {
            "grant_type": "client_credentials",
            "client_id": server.oauth_client_id,
            "client_secret": server.oauth_client_secret,
            "scope": "api_v3",
        }
        status, token = await oauth(server, data=form)
        assert status == 200
        assert set(token) == {"access_token", "token_type", "expires_in", "scope", "created_at"}
        assert token["token_type"] == "Bearer"
        assert (token["expires_in"], token["scope"]) == (60, "api_v3")
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        status, _, me = await fetch(server, "GET", ME, login=None, headers=headers)
        assert (status, me["id"]) == (200, server.users["admin"])
        # a minute later the token has expired
        server.store.oauth_tokens[token["access_token"]].created_at -= 61
        status, _, body = await fetch(server, "GET", ME, login=None, headers=headers)
        assert status == 401
        assert body["errorIdentifier"].endswith(":Unauthenticated")


async def test_oauth_token_expires_in_real_time() -> None:
    async with FakeOpenProject(seed_size=1, token_lifetime=0) as server:
        form = {"grant_type": "client_credentials", "client_id": server.oauth_client_id,
                "client_secret": server.oauth_client_secret}
        _, token = await oauth(server, data=form)
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        status, _, _ = await fetch(server, "GET", ME, login=None, headers=headers)
        assert status == 401


async def test_oauth_basic_client_auth(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    status, token = await oauth(
        server,
        data={"grant_type": "client_credentials"},
        headers=basic(server.oauth_client_id, server.oauth_client_secret),
    )
    assert status == 200
    assert token["access_token"]


async def test_oauth_errors(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    status, body = await oauth(
        server,
        data={"grant_type": "client_credentials", "client_id": server.oauth_client_id,
              "client_secret": "nope"},
    )
    assert status == 401
    assert body["error"] == "invalid_client"
    assert "error_description" in body
    status, body = await oauth(
        server,
        json={"grant_type": "client_credentials", "client_id": server.oauth_client_id,
              "client_secret": server.oauth_client_secret},
    )
    assert status == 400
    assert body["error"] == "invalid_request"


# ---------------------------------------------------------------------------------------------
# Request rules


async def test_missing_content_type_is_plain_text_406(
    openproject_server: FakeOpenProject,
) -> None:
    status, headers, body = await fetch(
        openproject_server, "POST", "/api/v3/work_packages/form", data=b"{}",
        skip_auto_headers={"Content-Type"},
    )
    assert status == 406
    assert headers["Content-Type"].startswith("text/plain")
    assert body == "Missing content-type header"


async def test_delete_without_content_type_is_allowed(
    openproject_server: FakeOpenProject,
) -> None:
    status, _, body = await fetch(openproject_server, "DELETE", "/api/v3/work_packages/7")
    assert (status, body) == (204, "")
    assert 7 not in openproject_server.store.work_packages


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data"])
async def test_wrong_content_type_is_415(
    openproject_server: FakeOpenProject, content_type: str
) -> None:
    status, _, body = await fetch(
        openproject_server, "PATCH", "/api/v3/work_packages/1",
        data=b'{"lockVersion": 0}', headers={"Content-Type": content_type},
    )
    assert status == 415
    assert body["errorIdentifier"] == "urn:openproject-org:api:v3:errors:TypeNotSupported"


async def test_content_type_parameters_are_fine(openproject_server: FakeOpenProject) -> None:
    status, _, body = await fetch(
        openproject_server, "PATCH", "/api/v3/work_packages/1",
        data=b'{"lockVersion": 0, "subject": "Charset"}',
        headers={"Content-Type": "application/hal+json; charset=utf-8"},
    )
    assert (status, body["subject"]) == (200, "Charset")


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b'"text"'])
async def test_bad_json_is_400(openproject_server: FakeOpenProject, data: bytes) -> None:
    status, _, body = await fetch(
        openproject_server, "POST", "/api/v3/work_packages/form",
        data=data, headers={"Content-Type": "application/json"},
    )
    assert status == 400
    assert body["errorIdentifier"] == "urn:openproject-org:api:v3:errors:InvalidRequestBody"


async def test_unknown_route_is_hal_404(openproject_server: FakeOpenProject) -> None:
    status, _, body = await fetch(openproject_server, "GET", "/api/v3/unicorns/1")
    assert status == 404
    assert body == {
        "_type": "Error",
        "errorIdentifier": "urn:openproject-org:api:v3:errors:NotFound",
        "message": "The requested resource could not be found.",
    }
    status, _, body = await fetch(openproject_server, "GET", "/api/v3/work_packages/99999")
    assert status == 404
    assert body["message"] == "The specified work package does not exist."


# ---------------------------------------------------------------------------------------------
# Permissions


async def test_reader_sees_no_write_links(openproject_server: FakeOpenProject) -> None:
    status, _, wp = await fetch(openproject_server, "GET", "/api/v3/work_packages/1",
                                login="reader")
    assert status == 200
    links = wp["_links"]
    for name in ("update", "updateImmediately", "delete", "addWatcher", "removeWatcher",
                 "addComment", "addRelation", "addAttachment", "addChild", "logTime"):
        assert name not in links, name
    assert links["customActions"] == []
    assert links["watch"]["payload"] == {"user": {"href": "/api/v3/users/3"}}
    _, _, admin_wp = await fetch(openproject_server, "GET", "/api/v3/work_packages/1")
    for name in ("update", "updateImmediately", "delete", "addWatcher", "addComment"):
        assert name in admin_wp["_links"], name


async def test_member_may_edit_but_not_delete(openproject_server: FakeOpenProject) -> None:
    _, _, wp = await fetch(openproject_server, "GET", "/api/v3/work_packages/1", login="member")
    assert wp["_links"]["update"] == {"href": "/api/v3/work_packages/1/form", "method": "post"}
    assert "delete" not in wp["_links"]
    status, _, body = await fetch(openproject_server, "DELETE", "/api/v3/work_packages/1",
                                  login="member")
    assert status == 403
    assert body["errorIdentifier"].endswith(":MissingPermission")


async def test_reader_write_is_403_and_invisible_is_404(
    openproject_server: FakeOpenProject,
) -> None:
    server = openproject_server
    status, _, body = await fetch(
        server, "PATCH", "/api/v3/work_packages/1", login="reader",
        json={"lockVersion": 0, "subject": "Nope"},
    )
    assert status == 403
    assert body["errorIdentifier"] == "urn:openproject-org:api:v3:errors:MissingPermission"
    assert server.store.work_packages[1].subject != "Nope"
    secret_wp = next(wp.id for wp in server.store.work_packages.values() if wp.project_id == 3)
    for login in ("reader", "member"):
        status, _, body = await fetch(server, "GET", f"/api/v3/work_packages/{secret_wp}",
                                      login=login)
        assert status == 404
        assert body["errorIdentifier"].endswith(":NotFound")
        status, _, _ = await fetch(server, "GET", "/api/v3/projects/secret", login=login)
        assert status == 404
        status, _, _ = await fetch(
            server, "PATCH", f"/api/v3/work_packages/{secret_wp}", login=login,
            json={"lockVersion": 0},
        )
        assert status == 404
    status, _, _ = await fetch(server, "GET", "/api/v3/projects/secret")
    assert status == 200


async def test_collections_only_show_visible_work_packages(
    openproject_server: FakeOpenProject,
) -> None:
    store = openproject_server.store
    for login, projects in (("reader", {1}), ("member", {1, 2}), ("admin", {1, 2, 3})):
        _, _, doc = await fetch(
            openproject_server, "GET", "/api/v3/work_packages?filters=[]&pageSize=-1",
            login=login,
        )
        expected = [wp.id for wp in store.work_packages.values() if wp.project_id in projects]
        assert [e["id"] for e in doc["_embedded"]["elements"]] == expected
        _, _, plist = await fetch(openproject_server, "GET", "/api/v3/projects", login=login)
        assert {p["id"] for p in plist["_embedded"]["elements"]} == projects
    _, _, reader_doc = await fetch(openproject_server, "GET", "/api/v3/work_packages",
                                   login="reader")
    assert "createWorkPackage" not in reader_doc["_links"]


async def test_reader_may_not_open_forms(openproject_server: FakeOpenProject) -> None:
    status, _, _ = await fetch(openproject_server, "POST", "/api/v3/work_packages/1/form",
                               login="reader", json={"lockVersion": 0})
    assert status == 403
    status, _, _ = await fetch(openproject_server, "POST", "/api/v3/work_packages/form",
                               login="reader", json={})
    assert status == 403
    status, _, _ = await fetch(openproject_server, "POST",
                               "/api/v3/projects/demo/work_packages/form", login="reader",
                               json={})
    assert status == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/v3/statuses/1"),
        ("DELETE", "/api/v3/statuses"),
        ("POST", "/api/v3/projects/1"),
        ("PUT", "/api/v3/work_packages/1"),
        ("PATCH", "/api/v3/work_packages/1/file_links"),
        ("POST", "/api/v3/project_statuses/on_track"),
    ],
)
async def test_wrong_method_on_known_path(
    openproject_server: FakeOpenProject, method: str, path: str
) -> None:
    # API::V3::Root's catch-all ``route :any, "*path"`` raises NotFound before Grape's 405
    status, headers, body = await fetch(openproject_server, method, path, json={})
    assert (status, body) == (404, {
        "_type": "Error",
        "errorIdentifier": "urn:openproject-org:api:v3:errors:NotFound",
        "message": "The requested resource could not be found.",
    })
    assert headers["Content-Type"] == "application/hal+json; charset=utf-8"
    assert "Allow" not in headers


async def test_head_on_a_get_route(openproject_server: FakeOpenProject) -> None:
    status, headers, body = await fetch(openproject_server, "HEAD", "/api/v3/statuses/1")
    assert (status, body, headers["Content-Type"]) == (
        200, "", "application/hal+json; charset=utf-8")
