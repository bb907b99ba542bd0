"""Validation of work package drafts, and committing them to the store."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from typing import Any

from ._data import (
    ADD_WP,
    EDIT_WP,
    MOVE_WP,
    WorkPackage,
)
from ._render import Ctx, fmt_days, fmt_hours
from ._writes import FIELD_OF_LINK, Draft, label

# ---------------------------------------------------------------------------------------------
# Validation


def validate(ctx: Ctx, draft: Draft) -> None:
    store = ctx.store
    wp = draft.wp
    if not wp.subject.strip():
        draft.error("subject", "Subject can't be blank.")
    elif len(wp.subject) > 255:
        draft.error("subject", "Subject is too long (maximum is 255 characters).")
    proj = store.projects.get(wp.project_id)
    if "project" not in draft.errors:
        if proj is None:
            draft.error("project", "Project can't be blank.")
        elif (draft.creating and not ctx.can(ADD_WP, proj.id)) or (
            draft.original is not None
            and proj.id != draft.original.project_id
            and not ctx.can(MOVE_WP, proj.id)
        ):
            draft.error("project", "Project is not set to one of the allowed values.")
    if "type" not in draft.errors:
        if wp.type_id == 0:
            draft.error("type", "Type can't be blank.")
        elif proj is not None and wp.type_id not in proj.type_ids:
            draft.error("type", "Type is not set to one of the allowed values.")
    for key, attr in (("status", "status_id"), ("priority", "priority_id")):
        if key not in draft.errors and getattr(wp, attr) == 0:
            draft.error(key, f"{label(key)} can't be blank.")
    if proj is not None:
        project_changed = draft.original is not None and draft.original.project_id != proj.id

        def value_changed(attr: str) -> bool:
            original = draft.original
            return (
                original is None or project_changed or getattr(original, attr) != getattr(wp, attr)
            )

        assignable = store.assignable_user_ids(proj.id)
        for key, attr in (("assignee", "assignee_id"), ("responsible", "responsible_id")):
            uid = getattr(wp, attr)
            if (
                key not in draft.errors
                and uid is not None
                and value_changed(attr)
                and uid not in assignable
            ):
                draft.error(key, f"{label(key)} is not set to one of the allowed values.")
        if "version" not in draft.errors and wp.version_id is not None:
            ver = store.versions.get(wp.version_id)
            if (
                ver is None
                or ver.project_id != proj.id
                or (value_changed("version_id") and ver.status != "open")
            ):
                draft.error("version", "Version is not set to one of the allowed values.")
        if "category" not in draft.errors and wp.category_id is not None:
            cat = store.categories.get(wp.category_id)
            if cat is None or cat.project_id != proj.id:
                draft.error("category", "Category is not set to one of the allowed values.")
    if "parent" not in draft.errors and wp.parent_id is not None:
        parent = store.work_packages.get(wp.parent_id)
        if parent is None or not ctx.can_see_wp(parent):
            draft.error("parent", "Parent does not exist.")
        elif wp.id and (parent.id == wp.id or wp.id in {a.id for a in store.ancestors_of(parent)}):
            draft.error("parent", "Parent cannot be the work package itself or a descendant.")
    if wp.start_date and wp.due_date and wp.due_date < wp.start_date:
        draft.error("dueDate", "Finish date must be greater than or equal to the start date.")
    done = wp.percentage_done
    if "percentageDone" not in draft.errors and done is not None and not 0 <= done <= 100:
        draft.error("percentageDone", "% Complete must be between 0 and 100.")
    for cf in store.custom_fields_for(proj.id if proj else None, wp.type_id or None):
        if (
            cf.is_required
            and cf.key not in draft.errors
            and wp.custom_values.get(cf.id) is None
            and (draft.creating or cf.key in draft.changed or draft.validate_cfs)
        ):
            draft.error(cf.key, f"{cf.name} can't be blank.")


def may_commit(ctx: Ctx, draft: Draft) -> bool:
    if draft.creating:
        return draft.wp.project_id in ctx.store.projects and ctx.can(ADD_WP, draft.wp.project_id)
    assert draft.original is not None
    return ctx.can(EDIT_WP, draft.original.project_id)


# ---------------------------------------------------------------------------------------------
# Committing


def change_details(ctx: Ctx, before: WorkPackage, after: WorkPackage) -> list[str]:
    """Journal detail lines for what changed (``Status changed from New to Closed``)."""
    store = ctx.store
    details: list[str] = []

    def name_of(kind: str, ref: Any) -> str:
        tables: dict[str, Mapping[int, Any]] = {
            "status": store.statuses,
            "type": store.types,
            "priority": store.priorities,
            "project": store.projects,
            "version": store.versions,
            "category": store.categories,
        }
        table = tables.get(kind, {})
        if ref is None:
            return ""
        if kind in ("assignee", "responsible"):
            user = store.users.get(ref)
            return user.name if user else str(ref)
        if kind == "parent":
            return f"#{ref}"
        item = table.get(ref)
        return getattr(item, "name", str(ref))

    for key, attr in FIELD_OF_LINK.items():
        old, new = getattr(before, attr), getattr(after, attr)
        if old != new:
            title = label(key)
            if old is None:
                details.append(f"{title} set to {name_of(key, new)}")
            elif new is None:
                details.append(f"{title} deleted ({name_of(key, old)})")
            else:
                details.append(f"{title} changed from {name_of(key, old)} to {name_of(key, new)}")
    scalar = (
        ("subject", "subject"),
        ("startDate", "start_date"),
        ("dueDate", "due_date"),
        ("percentageDone", "percentage_done"),
        ("estimatedTime", "estimated_hours"),
        ("remainingTime", "remaining_hours"),
        ("duration", "duration"),
    )
    for key, attr in scalar:
        old, new = getattr(before, attr), getattr(after, attr)
        if old != new:
            if key in ("estimatedTime", "remainingTime"):
                old, new = fmt_hours(old), fmt_hours(new)
            elif key == "duration":
                old, new = fmt_days(old), fmt_days(new)
            details.append(f"{label(key)} changed from {old} to {new}")
    if before.description != after.description:
        details.append("Description changed")
    for cf in store.custom_fields.values():
        old, new = before.custom_values.get(cf.id), after.custom_values.get(cf.id)
        if old != new:
            details.append(f"{cf.name} changed from {old} to {new}")
    return details


def commit_update(ctx: Ctx, draft: Draft) -> bool:
    """Copy the draft onto the stored work package; returns whether anything changed."""
    store = ctx.store
    original = draft.original
    assert original is not None
    after = draft.wp
    details = change_details(ctx, original, after)
    claimed = _claim(ctx, original.id, draft.claim_attachments)
    if not details and not claimed:
        return False
    before_parent = original.parent_id
    for f in dataclasses.fields(WorkPackage):
        if f.name not in (
            "id",
            "lock_version",
            "created_at",
            "updated_at",
            "parent_id",
            "watcher_ids",
            "author_id",
        ):
            setattr(original, f.name, getattr(after, f.name))
    if after.parent_id != before_parent:
        store.set_parent(original, after.parent_id)
    store.touch(original)
    store.journal(original, ctx.user.id, comment="", details=details or ["Attachment added"])
    return True


def commit_create(ctx: Ctx, draft: Draft) -> WorkPackage:
    store = ctx.store
    wp = draft.wp
    if ctx.user.id not in wp.watcher_ids:
        wp.watcher_ids.append(ctx.user.id)
    if wp.start_date and wp.due_date and wp.duration is None:
        days = (date.fromisoformat(wp.due_date) - date.fromisoformat(wp.start_date)).days
        wp.duration = days + 1 if days >= 0 else None
    store.add_work_package(wp)
    _claim(ctx, wp.id, draft.claim_attachments)
    return wp


def _claim(ctx: Ctx, wp_id: int, ids: list[int] | None) -> bool:
    if ids is None:
        return False
    store = ctx.store
    changed = False
    for att_id in ids:
        att = store.attachments.get(att_id)
        if att is not None and att.container_id in (0, wp_id) and att.author_id == ctx.user.id:
            changed = changed or att.container_id != wp_id
            att.container_id = wp_id
    return changed
