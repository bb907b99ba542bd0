"""Work package schemas (``/api/v3/work_packages/schemas/{projectId}-{typeId}``), form payloads."""

from __future__ import annotations

from typing import Any

from ._data import ASSIGN_VERSIONS, EDIT_WP, Project, Type, WorkPackage
from ._render import (
    NULL_LINK,
    Ctx,
    JsonDict,
    category,
    custom_option,
    fmt_days,
    fmt_hours,
    formattable,
    link,
    priority,
    status,
    to_query,
    type_,
    user_link,
    version,
)
from ._render_wp import cf_link


def _field(
    kind: str,
    name: str,
    *,
    required: bool = False,
    has_default: bool = False,
    writable: bool = True,
    **extra: Any,
) -> JsonDict:
    doc: JsonDict = {
        "type": kind,
        "name": name,
        "required": required,
        "hasDefault": has_default,
        "writable": writable,
    }
    doc.update(extra)
    return doc


def _scalar(kind: str, name: str, **kw: Any) -> JsonDict:
    doc = _field(kind, name, **kw)
    doc.setdefault("options", {})
    return doc


def _inline_link_field(
    kind: str,
    name: str,
    links: list[JsonDict],
    embedded: list[JsonDict] | None,
    **kw: Any,
) -> JsonDict:
    doc = _field(kind, name, **kw)
    doc["location"] = "_links"
    if embedded is not None:
        doc["_embedded"] = {"allowedValues": embedded}
    doc["_links"] = {"allowedValues": links}
    return doc


def _href_link_field(kind: str, name: str, href: str | None, **kw: Any) -> JsonDict:
    doc = _field(kind, name, **kw)
    doc["location"] = "_links"
    doc["_links"] = {"allowedValues": {"href": href}} if href else {}
    return doc


def principals_href(ctx: Ctx, project_id: int) -> str:
    filters = (
        '[{"status":{"operator":"!","values":["0","3"]}},'
        '{"type":{"operator":"=","values":["User"]}},'
        f'{{"member":{{"operator":"=","values":["{project_id}"]}}}}]'
    )
    return f"{ctx.api}/principals?{to_query({'filters': filters})}"


def schema_id(project_id: int, type_id: int) -> str:
    return f"{project_id}-{type_id}"


def wp_schema(
    ctx: Ctx,
    project: Project | None,
    typ: Type | None,
    *,
    wp: WorkPackage | None = None,
    embed: bool = False,
) -> JsonDict:
    """The Schema for a project/type pair; ``embed`` adds ``_embedded.allowedValues`` (forms).

    ``wp`` is the persisted work package for update forms (its allowed-value links are
    work-package scoped, as on the real server).
    """
    store = ctx.store
    api = ctx.api
    milestone = bool(typ and typ.is_milestone)
    editable = project is None or ctx.can(EDIT_WP, project.id) or wp is None
    persisted = wp is not None and wp.id > 0
    cfs = store.custom_fields_for(project.id if project else None, typ.id if typ else None)

    details = ["date"] if milestone else ["startDate", "dueDate", "duration"]
    doc: JsonDict = {
        "_type": "Schema",
        "_dependencies": [],
        "_attributeGroups": [
            {
                "_type": "WorkPackageFormAttributeGroup",
                "name": "People",
                "attributes": ["assignee", "responsible"],
            },
            {
                "_type": "WorkPackageFormAttributeGroup",
                "name": "Estimates and progress",
                "attributes": ["estimatedTime", "remainingTime", "percentageDone", "spentTime"],
            },
            {
                "_type": "WorkPackageFormAttributeGroup",
                "name": "Details",
                "attributes": [
                    *details,
                    "priority",
                    "version",
                    "category",
                    *(cf.key for cf in cfs),
                ],
            },
        ],
        "lockVersion": _scalar("Integer", "Lock Version", required=True, writable=False),
        "id": _scalar("Integer", "ID", required=True, writable=False),
        "subject": _scalar(
            "String", "Subject", required=True, writable=editable, minLength=1, maxLength=255
        ),
        "description": _scalar("Formattable", "Description", writable=editable),
        "scheduleManually": _scalar(
            "Boolean", "Manual scheduling", has_default=True, writable=editable
        ),
    }
    if milestone:
        doc["date"] = _scalar("Date", "Date", writable=editable)
    else:
        doc["startDate"] = _scalar("Date", "Start date", writable=editable)
        doc["dueDate"] = _scalar("Date", "Finish date", writable=editable)
    doc["derivedStartDate"] = _scalar("Date", "Derived start date", writable=False)
    doc["derivedDueDate"] = _scalar("Date", "Derived finish date", writable=False)
    if not milestone:
        doc["duration"] = _scalar("Duration", "Duration", writable=editable)
    doc["ignoreNonWorkingDays"] = _scalar("Boolean", "Working days only", writable=editable)
    doc["estimatedTime"] = _scalar("Duration", "Work", writable=editable)
    doc["derivedEstimatedTime"] = _scalar("Duration", "Total work", writable=False)
    doc["remainingTime"] = _scalar("Duration", "Remaining work", writable=editable)
    doc["derivedRemainingTime"] = _scalar("Duration", "Total remaining work", writable=False)
    doc["spentTime"] = _scalar("Duration", "Spent time", writable=False)
    doc["percentageDone"] = _scalar("Integer", "% Complete", writable=editable)
    doc["derivedPercentageDone"] = _scalar("Integer", "Total % complete", writable=False)
    doc["createdAt"] = _scalar("DateTime", "Created on", required=True, writable=False)
    doc["updatedAt"] = _scalar("DateTime", "Updated on", required=True, writable=False)
    doc["author"] = _field("User", "Author", required=True, writable=False, location="_links")

    if persisted:
        assert wp is not None
        wp_base = f"{api}/work_packages/{wp.id}"
        projects_href = f"{wp_base}/available_projects"
        assignees_href: str | None = f"{wp_base}/available_assignees"
        parent_href: str | None = f"{wp_base}/available_relation_candidates?type=parent"
    else:
        projects_href = f"{api}/work_packages/available_projects"
        assignees_href = f"{api}/projects/{project.id}/available_assignees" if project else None
        parent_href = None
    doc["project"] = _href_link_field(
        "Project", "Project", projects_href, required=True, writable=editable
    )
    doc["parent"] = _href_link_field("WorkPackage", "Parent", parent_href, writable=editable)
    doc["assignee"] = _href_link_field("User", "Assignee", assignees_href, writable=editable)
    responsibles_href = f"{api}/projects/{project.id}/available_responsibles" if project else None
    doc["responsible"] = _href_link_field(
        "User", "Accountable", responsibles_href, writable=editable
    )

    types = [store.types[t] for t in project.type_ids] if project else list(store.types.values())
    doc["type"] = _inline_link_field(
        "Type",
        "Type",
        [link(f"{api}/types/{t.id}", t.name) for t in types],
        [type_(ctx, t) for t in types] if embed else None,
        required=True,
        writable=editable,
    )
    statuses = list(store.statuses.values())
    doc["status"] = _inline_link_field(
        "Status",
        "Status",
        [link(f"{api}/statuses/{s.id}", s.name) for s in statuses],
        [status(ctx, s) for s in statuses] if embed else None,
        required=True,
        has_default=True,
        writable=editable,
    )
    categories = [c for c in store.categories.values() if project and c.project_id == project.id]
    doc["category"] = _inline_link_field(
        "Category",
        "Category",
        [link(f"{api}/categories/{c.id}", c.name) for c in categories],
        [category(ctx, c) for c in categories] if embed else None,
        writable=editable,
    )
    versions = [
        v
        for v in store.versions.values()
        if project and v.project_id == project.id and v.status == "open"
    ]
    doc["version"] = _inline_link_field(
        "Version",
        "Version",
        [link(f"{api}/versions/{v.id}", v.name) for v in versions],
        [version(ctx, v) for v in versions] if embed else None,
        writable=editable and (project is None or ctx.can(ASSIGN_VERSIONS, project.id)),
    )
    prios = [p for p in store.priorities.values() if p.is_active]
    doc["priority"] = _inline_link_field(
        "Priority",
        "Priority",
        [link(f"{api}/priorities/{p.id}", p.name) for p in prios],
        [priority(ctx, p) for p in prios] if embed else None,
        required=True,
        has_default=True,
        writable=editable,
    )
    for cf in cfs:
        if cf.field_format == "int":
            extra: dict[str, Any] = {} if cf.max_length is None else {"maxLength": cf.max_length}
            doc[cf.key] = _scalar(
                "Integer",
                cf.name,
                required=cf.is_required,
                writable=editable,
                visibility="default",
                **extra,
            )
        elif cf.field_format == "list":
            options = [store.custom_options[o] for o in cf.option_ids]
            doc[cf.key] = _inline_link_field(
                "CustomOption",
                cf.name,
                [link(f"{api}/custom_options/{o.id}", o.value) for o in options],
                [custom_option(ctx, o) for o in options] if embed else None,
                required=cf.is_required,
                writable=editable,
                visibility="default",
            )
        else:
            assert project is not None
            doc[cf.key] = _href_link_field(
                "User",
                cf.name,
                principals_href(ctx, project.id),
                required=cf.is_required,
                writable=editable,
                visibility="default",
            )
    if project is not None and typ is not None:
        doc["_links"] = {"self": link(f"{api}/work_packages/schemas/{project.id}-{typ.id}")}
    else:
        doc["_links"] = {}
    return doc


def payload(
    ctx: Ctx,
    wp: WorkPackage,
    overrides: dict[str, Any],
    link_overrides: dict[str, Any],
    *,
    update: bool,
) -> JsonDict:
    """The form's ``_embedded.payload``: writable properties and writable links.

    ``overrides``/``link_overrides`` hold submitted values that could not be applied
    (invalid values are echoed back, as the real server does).
    """
    store = ctx.store
    api = ctx.api
    typ = store.types.get(wp.type_id)
    milestone = bool(typ and typ.is_milestone)
    doc: JsonDict = {}
    if update:
        doc["lockVersion"] = wp.lock_version
    doc["subject"] = wp.subject
    doc["description"] = formattable(wp.description)
    doc["scheduleManually"] = wp.schedule_manually
    if milestone:
        doc["date"] = wp.start_date
    else:
        doc["startDate"] = wp.start_date
        doc["dueDate"] = wp.due_date
    doc["estimatedTime"] = fmt_hours(wp.estimated_hours)
    if not milestone:
        doc["duration"] = fmt_days(wp.duration)
    doc["ignoreNonWorkingDays"] = wp.ignore_non_working_days
    doc["remainingTime"] = fmt_hours(wp.remaining_hours)
    doc["percentageDone"] = wp.percentage_done
    cfs = store.custom_fields_for(wp.project_id or None, wp.type_id or None)
    for cf in cfs:
        if not cf.is_link:
            doc[cf.key] = wp.custom_values.get(cf.id)
    links: JsonDict = {}
    cat = store.categories.get(wp.category_id) if wp.category_id is not None else None
    links["category"] = link(f"{api}/categories/{cat.id}", cat.name) if cat else NULL_LINK
    links["type"] = link(f"{api}/types/{typ.id}", typ.name) if typ else NULL_LINK
    prio = store.priorities.get(wp.priority_id)
    links["priority"] = link(f"{api}/priorities/{prio.id}", prio.name) if prio else NULL_LINK
    proj = store.projects.get(wp.project_id)
    links["project"] = link(f"{api}/projects/{proj.id}", proj.name) if proj else NULL_LINK
    st = store.statuses.get(wp.status_id)
    links["status"] = link(f"{api}/statuses/{st.id}", st.name) if st else NULL_LINK
    links["responsible"] = user_link(ctx, wp.responsible_id)
    links["assignee"] = user_link(ctx, wp.assignee_id)
    ver = store.versions.get(wp.version_id) if wp.version_id is not None else None
    links["version"] = link(f"{api}/versions/{ver.id}", ver.name) if ver else NULL_LINK
    parent = store.work_packages.get(wp.parent_id) if wp.parent_id is not None else None
    links["parent"] = (
        link(f"{api}/work_packages/{parent.id}", parent.subject)
        if parent
        else {"href": None, "title": None}
    )
    for cf in cfs:
        if cf.is_link:
            links[cf.key] = cf_link(ctx, cf, wp.custom_values.get(cf.id))
    doc.update(overrides)
    links.update(link_overrides)
    doc["_links"] = links
    return doc
