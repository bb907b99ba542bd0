"""Small HAL documents written for these tests (shaped like OpenProject's, ids invented)."""

from __future__ import annotations

from typing import Any

API = "/api/v3"


def link(href: str | None, **extra: Any) -> dict[str, Any]:
    return {"href": href, **extra}


def user(uid: int = 5, name: str = "Ada Lovelace") -> dict[str, Any]:
    return {
        "_type": "User",
        "id": uid,
        "name": name,
        "_links": {"self": link(f"{API}/users/{uid}", title=name)},
    }


def project(pid: int = 3, name: str = "Apollo") -> dict[str, Any]:
    return {
        "_type": "Project",
        "id": pid,
        "identifier": name.lower(),
        "name": name,
        "_links": {
            "self": link(f"{API}/projects/{pid}", title=name),
            "createWorkPackage": link(f"{API}/projects/{pid}/work_packages/form", method="post"),
            "parent": link("urn:openproject-org:api:v3:undisclosed", title=None),
        },
    }


def work_package(
    wp_id: int = 42, *, lock: int = 3, embed: bool = True, **props: Any
) -> dict[str, Any]:
    base = f"{API}/work_packages/{wp_id}"
    doc: dict[str, Any] = {
        "_type": "WorkPackage",
        "id": wp_id,
        "lockVersion": lock,
        "subject": f"Task {wp_id}",
        "description": {
            "format": "markdown",
            "raw": "Some *text*",
            "html": "<p>Some <em>text</em></p>",
        },
        "dueDate": None,
        "type": "not the type link",
        "_links": {
            "self": link(base, title=f"Task {wp_id}"),
            "update": link(f"{base}/form", method="post"),
            "schema": link(f"{API}/work_packages/schemas/3-1"),
            "updateImmediately": link(base, method="patch"),
            "delete": link(base, method="delete"),
            "addWatcher": link(
                f"{base}/watchers",
                method="post",
                payload={"user": {"href": f"{API}/users/{{user_id}}"}},
                templated=True,
            ),
            "removeWatcher": link(f"{base}/watchers/{{user_id}}", method="delete", templated=True),
            "addComment": link(f"{base}/activities", method="post", title="Add comment"),
            "addRelation": link(f"{base}/relations", method="post"),
            "watchers": link(f"{base}/watchers"),
            "activities": link(f"{base}/activities"),
            "pdf": link(f"/work_packages/{wp_id}.pdf", type="application/pdf"),
            "move": link(f"/work_packages/{wp_id}/move/new", type="text/html", title="Move"),
            "children": [
                link(f"{API}/work_packages/43", title="Child A"),
                link(f"{API}/work_packages/44", title="Child B"),
            ],
            "ancestors": [],
            "project": link(f"{API}/projects/3", title="Apollo"),
            "assignee": link(None),
            "author": link(f"{API}/users/5", title="Ada Lovelace"),
            "parent": link("urn:openproject-org:api:v3:undisclosed", title=None),
        },
    }
    if embed:
        doc["_embedded"] = {"project": project(), "author": user()}
    doc.update(props)
    return doc


def error(suffix: str, message: str = "Something is wrong.", **embedded: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_type": "Error",
        "errorIdentifier": f"urn:openproject-org:api:v3:errors:{suffix}",
        "message": message,
    }
    if embedded:
        doc["_embedded"] = embedded
    return doc


def collection(
    elements: list[dict[str, Any]],
    *,
    total: int | None = None,
    offset: int = 1,
    size: int = 20,
    href: str = f"{API}/work_packages",
) -> dict[str, Any]:
    total = len(elements) if total is None else total
    q = "filters=%5B%5D"
    links: dict[str, Any] = {
        "self": link(f"{href}?{q}&offset={offset}&pageSize={size}"),
        "jumpTo": link(f"{href}?{q}&offset=%7Boffset%7D&pageSize={size}", templated=True),
        "changeSize": link(f"{href}?{q}&offset={offset}&pageSize=%7Bsize%7D", templated=True),
    }
    if offset > 1:
        links["previousByOffset"] = link(f"{href}?{q}&offset={offset - 1}&pageSize={size}")
    if offset * size < total:
        links["nextByOffset"] = link(f"{href}?{q}&offset={offset + 1}&pageSize={size}")
    return {
        "_type": "WorkPackageCollection",
        "total": total,
        "count": len(elements),
        "pageSize": size,
        "offset": offset,
        "_embedded": {"elements": elements},
        "_links": links,
    }
