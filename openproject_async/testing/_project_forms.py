"""Project schema, form payload and the validation of project write bodies.

Follows ``ProjectSchemaRepresenter``, ``ProjectPayloadRepresenter`` and
``Projects::BaseContract``: ``name`` (required, at most 255 characters), ``identifier``
(required, at most 100, lower-case letter first then ``a-z0-9-_``, unique, not reserved),
``description`` and ``statusExplanation`` (Formattable, ``raw`` is written), ``public``,
``active``, and the links ``parent`` (a visible project that is neither the project nor
one of its descendants) and ``status`` (``/api/v3/project_statuses/{code}``, or null).
``id``, ``createdAt`` and ``updatedAt`` are read-only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ._data import PROJECT_STATUSES, Project
from ._errors import JsonDict, constraint, format_error, read_only, resource_type_mismatch
from ._render import (
    UNDISCLOSED,
    Ctx,
    formattable,
    link,
    project_ancestors,
    project_link,
    project_status_link,
    project_visible,
)
from ._writes import parse_href

RESERVED_IDENTIFIERS = frozenset({"new", "menu"})
_IDENTIFIER = re.compile(r"\A[a-z][a-z0-9\-_]*\Z")
_READ_ONLY = {"id": "ID", "createdAt": "Created on", "updatedAt": "Updated on"}


def _field(
    type_: str, name: str, *, required: bool, writable: bool = True, **extra: Any
) -> JsonDict:
    return {
        "type": type_,
        "name": name,
        "required": required,
        "hasDefault": extra.pop("hasDefault", False),
        "writable": writable,
        **extra,
    }


def schema(ctx: Ctx, project: Project | None, *, standalone: bool = False) -> JsonDict:
    """``/api/v3/projects/schema`` (``standalone``) or the schema embedded in a form."""
    api = ctx.api
    parents = f"{api}/projects/available_parent_projects"
    if project is not None:
        parents += f"?of={project.id}"
    doc: JsonDict = {
        "_type": "Schema",
        "_dependencies": [],
        "id": _field("Integer", "ID", required=True, writable=False),
        "name": _field("String", "Name", required=True, minLength=1, maxLength=255),
        "identifier": _field("String", "Identifier", required=True, minLength=1, maxLength=100),
        "description": _field("Formattable", "Description", required=False),
        "public": _field("Boolean", "Public", required=True),
        "active": _field("Boolean", "Active", required=True, hasDefault=True),
        "status": {
            **_field("ProjectStatus", "Status", required=False, hasDefault=True),
            "location": "_links",
            "_links": {
                "allowedValues": [project_status_link(ctx, code) for code in PROJECT_STATUSES]
            },
        },
        "statusExplanation": _field("Formattable", "Status explanation", required=False),
        "parent": {
            **_field("Project", "Subproject of", required=False),
            "location": "_links",
            "visibility": "default",
            "_links": {"allowedValues": link(parents)},
        },
        "createdAt": _field("DateTime", "Created on", required=True, writable=False),
        "updatedAt": _field("DateTime", "Updated on", required=True, writable=False),
        "_links": {"self": link(f"{api}/projects/schema")} if standalone else {},
    }
    return doc


@dataclass
class Changes:
    """What a write body asks for: attribute name -> new value; errors per property."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: list[JsonDict] = field(default_factory=list)


def _raw(value: Any) -> str | None:
    if isinstance(value, dict):
        raw = value.get("raw")
        return "" if raw is None else str(raw)
    return None


def parse_body(ctx: Ctx, body: JsonDict) -> Changes:
    """Read a project write body; format and link-type problems are raised (422)."""
    changes = Changes()
    values = changes.values
    for key, label in _READ_ONLY.items():
        if key in body:
            message = f"{label} was attempted to be written but is not writable."
            changes.errors.append(read_only(key, message))
    for key in ("name", "identifier"):
        if key in body:
            value = body[key]
            if value is not None and not isinstance(value, str):
                raise format_error(key, "String", value)
            values[key] = (value or "").strip() if key == "name" else value or ""
    for key, attr in (("description", "description"), ("statusExplanation", "status_explanation")):
        if key in body:
            raw = _raw(body[key])
            if raw is None and body[key] is not None:
                raise format_error(key, "Formattable", body[key])
            values[attr] = raw or ""
    for key in ("public", "active"):
        if key in body:
            if not isinstance(body[key], bool):
                raise format_error(key, "Boolean", body[key])
            values[key] = body[key]
    links = body.get("_links")
    if isinstance(links, dict):
        if "parent" in links:
            href = links["parent"].get("href") if isinstance(links["parent"], dict) else None
            if href == UNDISCLOSED:
                pass  # keeps the current parent
            elif href is None:
                values["parent_id"] = None
            else:
                parsed = parse_href(ctx, str(href))
                if parsed is None or parsed[0] != "projects" or not parsed[1].isdigit():
                    raise resource_type_mismatch("parent", f"{ctx.api}/projects/:id", str(href))
                values["parent_id"] = int(parsed[1])
        if "status" in links:
            href = links["status"].get("href") if isinstance(links["status"], dict) else None
            if href is None:
                values["status_code"] = None
            else:
                parsed = parse_href(ctx, str(href))
                if parsed is None or parsed[0] != "project_statuses":
                    raise resource_type_mismatch(
                        "status", f"{ctx.api}/project_statuses/:id", str(href)
                    )
                values["status_code"] = parsed[1]
    return changes


def validate(ctx: Ctx, project: Project, changes: Changes, *, creating: bool) -> list[JsonDict]:
    """The contract's errors for ``project`` with ``changes`` applied (in attribute order)."""
    errors = list(changes.errors)
    values = changes.values
    name = values.get("name", project.name)
    if not name:
        errors.append(constraint("name", "Name can't be blank."))
    elif len(name) > 255:
        errors.append(constraint("name", "Name is too long (maximum is 255 characters)."))
    identifier = values.get("identifier", project.identifier)
    changed = creating or identifier != project.identifier
    if not identifier:
        errors.append(constraint("identifier", "Identifier can't be blank."))
    elif len(identifier) > 100:
        errors.append(
            constraint("identifier", "Identifier is too long (maximum is 100 characters).")
        )
    elif changed and identifier in RESERVED_IDENTIFIERS:
        errors.append(constraint("identifier", "Identifier is reserved."))
    elif changed and not _IDENTIFIER.match(identifier):
        errors.append(constraint("identifier", "Identifier is invalid."))
    elif any(
        p.identifier == identifier and p.id != project.id for p in ctx.store.projects.values()
    ):
        errors.append(constraint("identifier", "Identifier has already been taken."))
    if "parent_id" in values and values["parent_id"] != project.parent_id:
        parent = ctx.store.projects.get(values["parent_id"] or 0)
        if values["parent_id"] is not None and (
            parent is None
            or not project_visible(ctx, parent)
            or parent.id == project.id
            or project.id in {a.id for a in project_ancestors(ctx.store, parent)}
        ):
            errors.append(constraint("parent", "Subproject of is invalid."))
    code = values.get("status_code", project.status_code)
    if code is not None and code not in PROJECT_STATUSES:
        errors.append(constraint("status", "Status is not set to one of the allowed values."))
    return errors


def apply(project: Project, changes: Changes) -> None:
    for attr, value in changes.values.items():
        setattr(project, attr, value)


def payload(ctx: Ctx, project: Project, changes: Changes) -> JsonDict:
    """The form's ``payload``: the writable properties with the changes applied."""
    values = changes.values

    def get(attr: str) -> Any:
        return values.get(attr, getattr(project, attr))

    parent_id = get("parent_id")
    code = get("status_code")
    status_link = (
        link(f"{ctx.api}/project_statuses/{code}", PROJECT_STATUSES.get(code))
        if code is not None
        else {"href": None}
    )
    return {
        "identifier": get("identifier"),
        "name": get("name"),
        "active": get("active"),
        "public": get("public"),
        "description": formattable(get("description")),
        "statusExplanation": formattable(get("status_explanation")),
        "_links": {"parent": project_link(ctx, parent_id), "status": status_link},
    }
