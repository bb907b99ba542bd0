"""HAL documents for every resource the fake serves (plain dicts, serialized with orjson).

All hrefs are built from ``Ctx.api`` (``<base_path>/api/v3``) and ``Ctx.root``
(``<base_path>``), so a sub-path deployment is emulated by changing one string.
Link ``method`` values are lower-case, as the real server emits them.
"""

from __future__ import annotations

import functools
import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from ._data import (
    ADD_WP,
    EDIT_PROJECT,
    PROJECT_STATUSES,
    VIEW_WP,
    Category,
    CustomAction,
    CustomOption,
    Priority,
    Project,
    Status,
    Store,
    Type,
    User,
    Version,
    WorkPackage,
)

JsonDict = dict[str, Any]


class Ctx:
    """Per-request rendering context: who asks, and where the API lives."""

    __slots__ = ("_perms", "api", "root", "store", "user")

    def __init__(self, store: Store, user: User, root: str) -> None:
        self.store = store
        self.user = user
        self.root = root
        self.api = root + "/api/v3"
        self._perms: dict[int, frozenset[str]] = {}

    def perms(self, project_id: int) -> frozenset[str]:
        perms = self._perms.get(project_id)
        if perms is None:
            perms = self._perms[project_id] = self.store.permissions(self.user, project_id)
        return perms

    def can(self, permission: str, project_id: int) -> bool:
        return permission in self.perms(project_id)

    def can_see_wp(self, wp: WorkPackage) -> bool:
        return VIEW_WP in self.perms(wp.project_id)


# ---------------------------------------------------------------------------------------------
# Value formatting


def fmt_dt(value: datetime) -> str:
    # the real server renders whole seconds (`to_datetime.utc.iso8601`): ties are normal
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def fmt_hours(hours: float | None) -> str | None:
    """Hours as an ISO 8601 duration (``PT10H``, ``PT1H30M``, ``PT0S``)."""
    if hours is None:
        return None
    total_minutes = round(hours * 60)
    if total_minutes == 0:
        return "PT0S"
    h, m = divmod(total_minutes, 60)
    return "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "")


def fmt_days(days: int | None) -> str | None:
    return None if days is None else f"P{days}D"


_INLINE = (
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])"), r"<em>\1</em>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
)


@functools.lru_cache(maxsize=4096)
def markdown_html(raw: str) -> str:
    """A tiny markdown subset (paragraphs, bold, emphasis, code), enough for previews."""
    if not raw:
        return ""
    paragraphs = [p for p in re.split(r"\n\s*\n", raw.strip()) if p.strip()]
    out = []
    for para in paragraphs:
        text = html.escape(para.strip(), quote=False)
        for pattern, repl in _INLINE:
            text = pattern.sub(repl, text)
        out.append('<p class="op-uc-p">' + text.replace("\n", "<br>") + "</p>")
    return "".join(out)


def formattable(raw: str | None, fmt: str = "markdown") -> JsonDict:
    raw = raw or ""
    if fmt == "plain":
        rendered = f"<p>{html.escape(raw, quote=False)}</p>" if raw else ""
    else:
        rendered = markdown_html(raw)
    return {"format": fmt, "raw": raw, "html": rendered}


def to_query(params: dict[str, Any]) -> str:
    """Rails ``Hash#to_query``: keys sorted, keys and values CGI-escaped."""
    return "&".join(
        f"{_cgi(str(k))}={_cgi(str(v))}" for k, v in sorted(params.items(), key=lambda i: i[0])
    )


def _cgi(value: str) -> str:
    return quote(value, safe="-._~").replace("%20", "+")


NULL_LINK: JsonDict = {"href": None}


def link(href: str, title: str | None = None) -> JsonDict:
    return {"href": href} if title is None else {"href": href, "title": title}


# ---------------------------------------------------------------------------------------------
# Simple resources


def status(ctx: Ctx, s: Status) -> JsonDict:
    return {
        "_type": "Status",
        "id": s.id,
        "name": s.name,
        "isClosed": s.is_closed,
        "color": s.color,
        "isDefault": s.is_default,
        "isReadonly": s.is_readonly,
        "excludedFromTotals": False,
        "defaultDoneRatio": s.default_done_ratio,
        "position": s.position,
        "_links": {"self": link(f"{ctx.api}/statuses/{s.id}", s.name)},
    }


def type_(ctx: Ctx, t: Type) -> JsonDict:
    return {
        "_type": "Type",
        "id": t.id,
        "name": t.name,
        "color": t.color,
        "position": t.position,
        "isDefault": t.is_default,
        "isMilestone": t.is_milestone,
        "createdAt": "2025-01-06T08:00:00Z",
        "updatedAt": "2025-01-06T08:00:00Z",
        "_links": {"self": link(f"{ctx.api}/types/{t.id}", t.name)},
    }


def priority(ctx: Ctx, p: Priority) -> JsonDict:
    return {
        "_type": "Priority",
        "id": p.id,
        "name": p.name,
        "position": p.position,
        "color": p.color,
        "isDefault": p.is_default,
        "isActive": p.is_active,
        "_links": {"self": link(f"{ctx.api}/priorities/{p.id}", p.name)},
    }


def user(ctx: Ctx, u: User) -> JsonDict:
    viewer = ctx.user
    doc: JsonDict = {
        "_type": "User",
        "id": u.id,
        "name": u.name,
        "createdAt": fmt_dt(u.created_at),
        "updatedAt": fmt_dt(u.created_at),
        "firstName": u.first_name,
        "lastName": u.last_name,
        "avatar": "",
        "status": u.status,
        "language": "en",
    }
    links: JsonDict = {
        "self": link(f"{ctx.api}/users/{u.id}", u.name),
        "memberships": link(
            f"{ctx.api}/memberships?"
            + to_query({"filters": f'[{{"principal":{{"operator":"=","values":["{u.id}"]}}}}]'}),
            "Memberships",
        ),
        "showUser": {"href": f"{ctx.root}/users/{u.id}", "type": "text/html"},
    }
    if viewer.admin or viewer.id == u.id:
        doc["login"] = u.login
        doc["email"] = u.email
        doc["admin"] = u.admin
        doc["identityUrl"] = None
    if viewer.admin:
        links["updateImmediately"] = {
            "href": f"{ctx.api}/users/{u.id}",
            "title": f"Update {u.login}",
            "method": "patch",
        }
        links["lock"] = {
            "href": f"{ctx.api}/users/{u.id}/lock",
            "title": f"Set lock on {u.login}",
            "method": "post",
        }
        links["delete"] = {
            "href": f"{ctx.api}/users/{u.id}",
            "title": f"Delete {u.login}",
            "method": "delete",
        }
    doc["_links"] = links
    return doc


def user_link(ctx: Ctx, user_id: int | None) -> JsonDict:
    if user_id is None:
        return NULL_LINK
    u = ctx.store.users.get(user_id)
    if u is None:
        return NULL_LINK
    return link(f"{ctx.api}/users/{u.id}", u.name)


UNDISCLOSED = "urn:openproject-org:api:v3:undisclosed"


def project_status_link(ctx: Ctx, code: str | None) -> JsonDict:
    if code is None or code not in PROJECT_STATUSES:
        return NULL_LINK
    return link(f"{ctx.api}/project_statuses/{code}", PROJECT_STATUSES[code])


def project_status(ctx: Ctx, code: str) -> JsonDict:
    """``ProjectStatus``: the id is the code (``on_track``), the name its translation."""
    return {
        "_type": "ProjectStatus",
        "id": code,
        "name": PROJECT_STATUSES[code],
        "_links": {"self": project_status_link(ctx, code)},
    }


def project_ancestors(store: Store, p: Project) -> list[Project]:
    """The parent chain of ``p``, root first (stops at a missing parent or a cycle)."""
    chain: list[Project] = []
    seen = {p.id}
    parent_id = p.parent_id
    while parent_id is not None and parent_id not in seen and parent_id in store.projects:
        parent = store.projects[parent_id]
        chain.append(parent)
        seen.add(parent_id)
        parent_id = parent.parent_id
    chain.reverse()
    return chain


def project_visible(ctx: Ctx, p: Project) -> bool:
    return ctx.user.admin or VIEW_WP in ctx.perms(p.id)


def project_link(ctx: Ctx, project_id: int | None) -> JsonDict:
    """A link to a project: ``{"href": null}`` for none, the undisclosed URN if invisible."""
    if project_id is None or project_id not in ctx.store.projects:
        return NULL_LINK
    p = ctx.store.projects[project_id]
    if not project_visible(ctx, p):
        return {"href": UNDISCLOSED, "title": None}
    return link(f"{ctx.api}/projects/{p.id}", p.name)


def project(ctx: Ctx, p: Project) -> JsonDict:
    api = ctx.api
    base = f"{api}/projects/{p.id}"
    links: JsonDict = {"self": link(base, p.name)}
    if ctx.can(ADD_WP, p.id):
        links["createWorkPackage"] = {"href": f"{base}/work_packages/form", "method": "post"}
        links["createWorkPackageImmediately"] = {"href": f"{base}/work_packages", "method": "post"}
    links["workPackages"] = link(f"{base}/work_packages")
    links["categories"] = link(f"{base}/categories")
    links["versions"] = link(f"{base}/versions")
    links["types"] = link(f"{base}/types")
    links["memberships"] = link(
        f"{api}/memberships?"
        + to_query({"filters": f'[{{"project":{{"operator":"=","values":["{p.id}"]}}}}]'})
    )
    links["schema"] = link(f"{api}/projects/schema")
    links["parent"] = project_link(ctx, p.parent_id)
    links["ancestors"] = [
        link(f"{api}/projects/{a.id}", a.name)
        for a in project_ancestors(ctx.store, p)
        if project_visible(ctx, a)
    ]
    links["status"] = project_status_link(ctx, p.status_code)
    if ctx.can(EDIT_PROJECT, p.id):
        links["update"] = {"href": f"{base}/form", "method": "post"}
        links["updateImmediately"] = {"href": base, "method": "patch"}
    if ctx.user.admin:
        links["delete"] = {"href": base, "method": "delete"}
    return {
        "_type": "Project",
        "id": p.id,
        "identifier": p.identifier,
        "name": p.name,
        "active": p.active,
        "public": p.public,
        "description": formattable(p.description),
        "statusExplanation": formattable(p.status_explanation),
        "createdAt": fmt_dt(p.created_at),
        "updatedAt": fmt_dt(p.updated_at),
        "_links": links,
    }


def category(ctx: Ctx, c: Category) -> JsonDict:
    proj = ctx.store.projects[c.project_id]
    return {
        "_type": "Category",
        "id": c.id,
        "name": c.name,
        "_links": {
            "self": link(f"{ctx.api}/categories/{c.id}", c.name),
            "project": link(f"{ctx.api}/projects/{proj.id}", proj.name),
            "defaultAssignee": user_link(ctx, c.default_assignee_id),
        },
    }


def version(ctx: Ctx, v: Version) -> JsonDict:
    proj = ctx.store.projects[v.project_id]
    return {
        "_type": "Version",
        "id": v.id,
        "name": v.name,
        "description": formattable(v.description, "plain"),
        "startDate": v.start_date,
        "endDate": v.end_date,
        "status": v.status,
        "sharing": "none",
        "createdAt": fmt_dt(proj.created_at),
        "updatedAt": fmt_dt(proj.created_at),
        "_links": {
            "self": link(f"{ctx.api}/versions/{v.id}", v.name),
            "definingProject": link(f"{ctx.api}/projects/{proj.id}", proj.name),
            "availableInProjects": link(f"{ctx.api}/versions/{v.id}/projects"),
        },
    }


def custom_option(ctx: Ctx, o: CustomOption) -> JsonDict:
    return {
        "_type": "CustomOption",
        "id": o.id,
        "value": o.value,
        "_links": {"self": link(f"{ctx.api}/custom_options/{o.id}", o.value)},
    }


def custom_action(ctx: Ctx, a: CustomAction) -> JsonDict:
    return {
        "_type": "CustomAction",
        "name": a.name,
        "description": a.description,
        "_links": {
            "self": link(f"{ctx.api}/custom_actions/{a.id}", a.name),
            "executeImmediately": {
                "href": f"{ctx.api}/custom_actions/{a.id}/execute",
                "title": f"Execute {a.name}",
                "method": "post",
            },
        },
    }


def collection(elements: list[JsonDict], self_href: str, type_name: str = "Collection") -> JsonDict:
    """An unpaginated collection (statuses, types, watchers, activities...)."""
    return {
        "_type": type_name,
        "total": len(elements),
        "count": len(elements),
        "_embedded": {"elements": elements},
        "_links": {"self": link(self_href)},
    }
