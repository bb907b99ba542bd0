"""Parsing and validating work package write bodies (shared by forms, POST and PATCH).

Scalars are read from the root of the body, links only from ``_links`` (a ``project`` at
the top level is ignored, as on the real server). Unknown properties are ignored. Format
problems and links to the wrong kind of resource are raised (422) instead of collected;
everything else is collected per attribute as PropertyConstraintViolation errors.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from ._data import (
    VIEW_WP,
    CustomField,
    Project,
    WorkPackage,
    utcnow,
)
from ._errors import (
    JsonDict,
    constraint,
    format_error,
    multiple,
    read_only,
    resource_type_mismatch,
    update_conflict,
    validation_failed,
)
from ._render import Ctx, fmt_dt, fmt_hours

UNDISCLOSED = "urn:openproject-org:api:v3:undisclosed"

_LINK_TARGETS = {
    "project": "projects",
    "type": "types",
    "status": "statuses",
    "priority": "priorities",
    "assignee": "users",
    "responsible": "users",
    "version": "versions",
    "category": "categories",
    "parent": "work_packages",
}
FIELD_OF_LINK = {
    "project": "project_id",
    "type": "type_id",
    "status": "status_id",
    "priority": "priority_id",
    "assignee": "assignee_id",
    "responsible": "responsible_id",
    "version": "version_id",
    "category": "category_id",
    "parent": "parent_id",
}
_LABELS = {
    "subject": "Subject",
    "project": "Project",
    "type": "Type",
    "status": "Status",
    "priority": "Priority",
    "assignee": "Assignee",
    "responsible": "Accountable",
    "version": "Version",
    "category": "Category",
    "parent": "Parent",
    "startDate": "Start date",
    "dueDate": "Finish date",
    "date": "Date",
    "percentageDone": "% Complete",
    "estimatedTime": "Work",
    "remainingTime": "Remaining work",
    "description": "Description",
    "duration": "Duration",
}
_READ_ONLY = (
    "id",
    "createdAt",
    "updatedAt",
    "derivedStartDate",
    "derivedDueDate",
    "derivedEstimatedTime",
    "derivedRemainingTime",
    "derivedPercentageDone",
    "spentTime",
)
_DURATION = re.compile(
    r"^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?"
    r"(?:(\d+(?:\.\d+)?)S)?)?$"
)


@dataclasses.dataclass
class Draft:
    wp: WorkPackage
    creating: bool
    original: WorkPackage | None = None
    errors: dict[str, list[JsonDict]] = dataclasses.field(default_factory=dict)
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    link_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    changed: set[str] = dataclasses.field(default_factory=set)
    validate_cfs: bool = False
    claim_attachments: list[int] | None = None

    def error(self, attribute: str, message: str) -> None:
        self.errors.setdefault(attribute, []).append(constraint(attribute, message))

    @property
    def valid(self) -> bool:
        return not self.errors

    def validation_errors(self) -> JsonDict:
        """The form's ``_embedded.validationErrors`` (one Error, or MultipleErrors per key)."""
        return {k: v[0] if len(v) == 1 else multiple(v) for k, v in self.errors.items()}

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise validation_failed([e for errs in self.errors.values() for e in errs])


def copy_wp(wp: WorkPackage) -> WorkPackage:
    return dataclasses.replace(
        wp, custom_values=dict(wp.custom_values), watcher_ids=list(wp.watcher_ids)
    )


def new_draft(ctx: Ctx, project: Project | None) -> Draft:
    store = ctx.store
    now = utcnow()
    default_type = min((t for t in store.types.values() if t.is_default), key=lambda t: t.position)
    wp = WorkPackage(
        id=0,
        project_id=project.id if project else 0,
        type_id=default_type.id,
        subject="",
        status_id=store.default_status().id,
        priority_id=store.default_priority().id,
        author_id=ctx.user.id,
        created_at=now,
        updated_at=now,
        watcher_ids=[],
    )
    return Draft(wp=wp, creating=True)


def edit_draft(wp: WorkPackage) -> Draft:
    return Draft(wp=copy_wp(wp), creating=False, original=wp)


def check_lock_version(body: JsonDict, wp: WorkPackage) -> None:
    """Missing or stale ``lockVersion`` -> 409 UpdateConflict (raised, also from forms)."""
    lock = body.get("lockVersion")
    if isinstance(lock, bool) or not isinstance(lock, int | str):
        raise update_conflict()
    if str(lock).strip() != str(wp.lock_version):
        raise update_conflict()


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_href(ctx: Ctx, href: str) -> tuple[str, str] | None:
    """``/api/v3/<collection>/<id>`` -> (collection, id); absolute URLs and no prefix accepted."""
    path = urlsplit(href).path if "://" in href else href.split("?", 1)[0]
    for prefix in (ctx.api + "/", "/api/v3/"):
        if path.startswith(prefix):
            parts = path[len(prefix) :].split("/")
            if len(parts) == 2 and parts[1]:
                return parts[0], parts[1]
    return None


def _expected(ctx: Ctx, collection: str) -> str:
    return f"{ctx.api}/{collection}/:id"


def apply_body(ctx: Ctx, draft: Draft, body: JsonDict) -> None:
    """Apply a write body to ``draft.wp``. Raises 422 for format/resource-type problems."""
    wp = draft.wp
    meta = body.get("_meta")
    if isinstance(meta, dict) and meta.get("validateCustomFields"):
        draft.validate_cfs = True
    links = body.get("_links")
    if isinstance(links, dict):
        _apply_links(ctx, draft, links)
    _check_read_only(ctx, draft, body)

    if "subject" in body:
        value = body["subject"]
        wp.subject = "" if value is None else str(value)
        draft.changed.add("subject")
    if "description" in body:
        value = body["description"]
        if isinstance(value, dict):
            raw = value.get("raw")
            wp.description = "" if raw is None else str(raw)
        else:
            wp.description = "" if value is None else str(value)
        draft.changed.add("description")
    for key, attr in (
        ("scheduleManually", "schedule_manually"),
        ("ignoreNonWorkingDays", "ignore_non_working_days"),
    ):
        if key in body:
            setattr(wp, attr, _bool(body[key]))
            draft.changed.add(key)
    milestone = ctx.store.types[wp.type_id].is_milestone if wp.type_id in ctx.store.types else False
    date_keys = ("date", "startDate", "dueDate") if milestone else ("startDate", "dueDate")
    for key in date_keys:
        if key in body:
            value = _parse_date(key, body[key])
            if key in ("date", "startDate"):
                wp.start_date = value
            if key in ("date", "dueDate"):
                wp.due_date = value
            draft.changed.add(key)
    for key, attr in (("estimatedTime", "estimated_hours"), ("remainingTime", "remaining_hours")):
        if key in body:
            setattr(wp, attr, _parse_hours(key, body[key]))
            draft.changed.add(key)
    if "duration" in body and not milestone:
        hours = _parse_hours("duration", body["duration"])
        wp.duration = None if hours is None else max(1, round(hours / 24))
        draft.changed.add("duration")
    if wp.start_date and wp.due_date and not milestone:
        try:
            days = (date.fromisoformat(wp.due_date) - date.fromisoformat(wp.start_date)).days
            wp.duration = days + 1 if days >= 0 else wp.duration
        except ValueError:
            pass
    if "percentageDone" in body:
        value = body["percentageDone"]
        draft.changed.add("percentageDone")
        if value is None:
            wp.percentage_done = None
        elif isinstance(value, int) and not isinstance(value, bool):
            wp.percentage_done = value
        else:
            draft.overrides["percentageDone"] = value
            draft.error("percentageDone", "% Complete is not a number.")
    for cf in ctx.store.custom_fields_for(wp.project_id or None, wp.type_id or None):
        if cf.is_link or cf.key not in body:
            continue
        draft.changed.add(cf.key)
        value = body[cf.key]
        if value is None or value == "":
            wp.custom_values.pop(cf.id, None)
            continue
        # like CustomValue validations: format and length are checked independently
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            number = int(value)
        else:
            draft.error(cf.key, f"{cf.name} is not a number.")
        text = str(value).strip()
        if cf.max_length is not None and len(text) > cf.max_length:
            draft.error(cf.key, f"{cf.name} is too long (maximum is {cf.max_length} characters).")
        if cf.key in draft.errors:
            draft.overrides[cf.key] = value
        else:
            wp.custom_values[cf.id] = number


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "t", "1")
    return bool(value)


def _parse_date(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise format_error(key, "ISO 8601 date only", value)


def _parse_hours(key: str, value: Any) -> float | None:
    if value is None:
        return None
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise format_error(key, "ISO 8601 duration", value)
    weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return (weeks * 7 + days) * 24 + hours + minutes / 60 + seconds / 3600


def _check_read_only(ctx: Ctx, draft: Draft, body: JsonDict) -> None:
    present = [k for k in _READ_ONLY if k in body]
    if not present:
        return
    current: dict[str, Any] = {}
    if draft.original is not None:
        wp = draft.original
        current = {
            "id": wp.id,
            "createdAt": fmt_dt(wp.created_at),
            "updatedAt": fmt_dt(wp.updated_at),
            "derivedStartDate": None,
            "derivedDueDate": None,
            "derivedEstimatedTime": fmt_hours(wp.estimated_hours),
            "derivedRemainingTime": fmt_hours(wp.remaining_hours),
            "derivedPercentageDone": wp.percentage_done,
            "spentTime": "PT0S",
        }
    for key in present:
        if draft.original is None or body[key] != current.get(key):
            draft.errors.setdefault(key, []).append(
                read_only(key, f"{label(key)} was attempted to be written but is not writable.")
            )


def label(key: str) -> str:
    return _LABELS.get(key) or {
        "id": "ID",
        "createdAt": "Created on",
        "updatedAt": "Updated on",
        "author": "Author",
    }.get(key, key)


def _apply_links(ctx: Ctx, draft: Draft, links: JsonDict) -> None:
    store = ctx.store
    wp = draft.wp
    # project and type first: they decide which custom fields exist
    ordered = sorted(links, key=lambda k: (k not in ("project", "type"), k != "project"))
    for key in ordered:
        value = links[key]
        if key == "author":
            href = value.get("href") if isinstance(value, dict) else None
            original_author = f"{ctx.api}/users/{wp.author_id}"
            if href not in (None, original_author) or draft.creating:
                draft.errors.setdefault("author", []).append(
                    read_only("author", "Author was attempted to be written but is not writable.")
                )
            continue
        if key == "attachments":
            draft.claim_attachments = _attachment_ids(ctx, value)
            continue
        cf = _link_cf(ctx, key, wp)
        if key not in _LINK_TARGETS and cf is None:
            continue  # unknown or not applicable: silently ignored
        href = value.get("href") if isinstance(value, dict) else None
        if value is not None and not isinstance(value, dict):
            continue
        if href == UNDISCLOSED:
            continue
        draft.changed.add(key)
        if cf is not None:
            _apply_cf_link(ctx, draft, cf, href, value)
            continue
        field = FIELD_OF_LINK[key]
        if href is None:
            setattr(wp, field, 0 if key in ("project", "type", "status", "priority") else None)
            continue
        if not isinstance(href, str):
            raise resource_type_mismatch(key, _expected(ctx, _LINK_TARGETS[key]), str(href))
        parsed = parse_href(ctx, href)
        target = _LINK_TARGETS[key]
        if parsed is None or parsed[0] != target:
            raise resource_type_mismatch(key, _expected(ctx, target), href)
        ref = parsed[1]
        found: int | None = None
        if key == "project":
            proj = store.project_by_ref(ref)
            if proj is not None and VIEW_WP in ctx.perms(proj.id):
                found = proj.id
        elif ref.isdigit():
            tables: dict[str, Mapping[int, Any]] = {
                "types": store.types,
                "statuses": store.statuses,
                "priorities": store.priorities,
                "users": store.users,
                "versions": store.versions,
                "categories": store.categories,
                "work_packages": store.work_packages,
            }
            if int(ref) in tables[target]:
                found = int(ref)
        if found is None:
            draft.link_overrides[key] = {"href": href}
            if key == "parent":
                draft.error(key, "Parent does not exist.")
            else:
                draft.error(key, f"{label(key)} is not set to one of the allowed values.")
            continue
        setattr(wp, field, found)


def _link_cf(ctx: Ctx, key: str, wp: WorkPackage) -> CustomField | None:
    if not key.startswith("customField"):
        return None
    for cf in ctx.store.custom_fields_for(wp.project_id or None, wp.type_id or None):
        if cf.key == key and cf.is_link:
            return cf
    return None


def _apply_cf_link(ctx: Ctx, draft: Draft, cf: CustomField, href: Any, value: Any) -> None:
    wp = draft.wp
    if href is None:
        wp.custom_values.pop(cf.id, None)
        return
    target = "custom_options" if cf.field_format == "list" else "users"
    parsed = parse_href(ctx, href) if isinstance(href, str) else None
    if parsed is None or parsed[0] != target:
        raise resource_type_mismatch(cf.key, _expected(ctx, target), str(href))
    ref = int(parsed[1]) if parsed[1].isdigit() else -1
    ok = (
        ref in cf.option_ids
        if cf.field_format == "list"
        else ref in ctx.store.member_user_ids(wp.project_id)
    )
    if not ok:
        draft.link_overrides[cf.key] = {"href": href}
        draft.error(cf.key, f"{cf.name} is not set to one of the allowed values.")
        return
    wp.custom_values[cf.id] = ref


def _attachment_ids(ctx: Ctx, value: Any) -> list[int]:
    ids: list[int] = []
    items = value if isinstance(value, list) else []
    for item in items:
        href = item.get("href") if isinstance(item, dict) else None
        parsed = parse_href(ctx, href) if isinstance(href, str) else None
        if parsed is None or parsed[0] != "attachments" or not parsed[1].isdigit():
            raise resource_type_mismatch("attachments", _expected(ctx, "attachments"), str(href))
        ids.append(int(parsed[1]))
    return ids
