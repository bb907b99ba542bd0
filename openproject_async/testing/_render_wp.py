"""HAL documents of work packages and of their activities, relations and attachments."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from ._data import (
    ADD_NOTES,
    ADD_WATCHERS,
    ADD_WP,
    COPY_WP,
    DELETE_WATCHERS,
    DELETE_WP,
    EDIT_WP,
    LOG_TIME,
    MANAGE_FILE_LINKS,
    MANAGE_RELATIONS,
    MANAGE_SUBTASKS,
    MOVE_WP,
    RELATION_TYPES,
    VIEW_CHANGESETS,
    VIEW_FILE_LINKS,
    VIEW_TIME,
    VIEW_WATCHERS,
    Activity,
    Attachment,
    CustomField,
    Project,
    Relation,
    Store,
    Type,
    WorkPackage,
)
from ._render import (
    NULL_LINK,
    Ctx,
    JsonDict,
    category,
    collection,
    custom_action,
    fmt_days,
    fmt_dt,
    fmt_hours,
    formattable,
    link,
    priority,
    project,
    status,
    type_,
    user,
    user_link,
    version,
)

# ---------------------------------------------------------------------------------------------
# Work packages


def cf_link(ctx: Ctx, cf: CustomField, value: Any) -> JsonDict:
    if value is None:
        return NULL_LINK
    if cf.field_format == "list":
        option = ctx.store.custom_options.get(value)
        if option is None:
            return NULL_LINK
        return link(f"{ctx.api}/custom_options/{option.id}", option.value)
    return user_link(ctx, value)


_TIME_FILTER_HEAD = quote('[{"work_package_id":{"operator":"=","values":["', safe="-._~")
_TIME_FILTER_TAIL = quote('"]}}]', safe="-._~")


def wp_link(ctx: Ctx, wp: WorkPackage) -> JsonDict:
    return link(f"{ctx.api}/work_packages/{wp.id}", wp.subject)


def configure_links(ctx: Ctx, proj: Project, typ: Type) -> JsonDict:
    """The admin's HTML links to a project's custom fields and a type's form (WP and form)."""
    return {
        "customFields": {
            "href": f"{ctx.root}/projects/{proj.identifier}/settings/custom_fields",
            "title": "Custom fields",
            "type": "text/html",
        },
        "configureForm": {
            "href": f"{ctx.root}/types/{typ.id}/edit?tab=form_configuration",
            "title": "Configure form",
            "type": "text/html",
        },
    }


def work_package(ctx: Ctx, wp: WorkPackage, *, embed: bool = False) -> JsonDict:
    """The full WorkPackage representer; ``embed`` adds the ``_embedded`` block of a single GET."""
    store = ctx.store
    api = ctx.api
    wid = wp.id
    base = f"{api}/work_packages/{wid}"
    perms = ctx.perms(wp.project_id)
    subject = wp.subject
    typ = store.types[wp.type_id]
    proj = store.projects[wp.project_id]
    st = store.statuses[wp.status_id]
    prio = store.priorities[wp.priority_id]
    me = ctx.user.id
    can_edit = EDIT_WP in perms

    links: JsonDict = {"attachments": {"href": base + "/attachments"}}
    if can_edit:
        links["addAttachment"] = {"href": base + "/attachments", "method": "post"}
    if getattr(store.storage, "direct_uploads", False):
        links["prepareAttachment"] = {"href": base + "/attachments/prepare", "method": "post"}
    if VIEW_FILE_LINKS in perms:
        links["fileLinks"] = {"href": base + "/file_links"}
    if MANAGE_FILE_LINKS in perms:
        links["addFileLink"] = {"href": base + "/file_links", "method": "post"}
    links["self"] = {"href": base, "title": subject}
    if can_edit:
        links["update"] = {"href": base + "/form", "method": "post"}
    links["schema"] = {"href": f"{api}/work_packages/schemas/{proj.id}-{typ.id}"}
    if can_edit:
        links["updateImmediately"] = {"href": base, "method": "patch"}
    if DELETE_WP in perms:
        links["delete"] = {"href": base, "method": "delete"}
    if LOG_TIME in perms:
        links["logTime"] = {"href": f"{api}/time_entries", "title": f"Log time on {subject}"}
    if MOVE_WP in perms:
        links["move"] = {
            "href": f"{ctx.root}/work_packages/{wid}/move/new",
            "title": f"Move {subject}",
            "type": "text/html",
        }
    if COPY_WP in perms:
        links["copy"] = {"href": f"{ctx.root}/work_packages/{wid}/copy", "title": f"Copy {subject}"}
    links["pdf"] = {
        "href": f"{ctx.root}/work_packages/{wid}.pdf",
        "title": "Export as PDF",
        "type": "application/pdf",
    }
    links["atom"] = {
        "href": f"{ctx.root}/work_packages/{wid}.atom",
        "title": "Atom feed",
        "type": "application/rss+xml",
    }
    links["availableRelationCandidates"] = {
        "href": base + "/available_relation_candidates",
        "title": "Potential work packages to relate to",
    }
    if ctx.user.admin:
        links.update(configure_links(ctx, proj, typ))
    links["activities"] = {"href": base + "/activities"}
    if ADD_WATCHERS in perms:
        links["availableWatchers"] = {"href": base + "/available_watchers"}
    links["relations"] = {"href": base + "/relations"}
    if VIEW_CHANGESETS in perms:
        links["revisions"] = {"href": base + "/revisions"}
    if me in wp.watcher_ids:
        links["unwatch"] = {"href": f"{base}/watchers/{me}", "method": "delete"}
    else:
        links["watch"] = {
            "href": base + "/watchers",
            "method": "post",
            "payload": {"user": {"href": f"{api}/users/{me}"}},
        }
    if VIEW_WATCHERS in perms:
        links["watchers"] = {"href": base + "/watchers"}
    if ADD_WATCHERS in perms:
        links["addWatcher"] = {
            "href": base + "/watchers",
            "method": "post",
            "payload": {"user": {"href": f"{api}/users/{{user_id}}"}},
            "templated": True,
        }
    if DELETE_WATCHERS in perms:
        links["removeWatcher"] = {
            "href": base + "/watchers/{user_id}",
            "method": "delete",
            "templated": True,
        }
    if MANAGE_RELATIONS in perms:
        links["addRelation"] = {
            "href": base + "/relations",
            "title": "Add relation",
            "method": "post",
        }
    if ADD_WP in perms:
        links["addChild"] = {
            "href": f"{api}/projects/{proj.identifier}/work_packages",
            "title": f"Add child of {subject}",
            "method": "post",
        }
    if MANAGE_SUBTASKS in perms:
        links["changeParent"] = {
            "href": base,
            "title": f"Change parent of {subject}",
            "method": "patch",
        }
    if ADD_NOTES in perms:
        links["addComment"] = {
            "href": base + "/activities",
            "title": "Add comment",
            "method": "post",
        }
    links["previewMarkup"] = {"href": f"{api}/render/markdown?context={base}", "method": "post"}
    if VIEW_TIME in perms:
        links["timeEntries"] = {
            "href": f"{api}/time_entries?filters={_TIME_FILTER_HEAD}{wid}{_TIME_FILTER_TAIL}",
            "title": "Time entries",
        }
    child_ids = store.children.get(wid)
    if child_ids:
        kids = [store.work_packages[c] for c in child_ids if c in store.work_packages]
        kids = [c for c in kids if ctx.can_see_wp(c)]
        if kids:
            links["children"] = [wp_link(ctx, c) for c in kids]
    if wp.parent_id is None:
        links["ancestors"] = []
    else:
        links["ancestors"] = [wp_link(ctx, a) for a in store.ancestors_of(wp) if ctx.can_see_wp(a)]
    if wp.category_id is not None and wp.category_id in store.categories:
        cat = store.categories[wp.category_id]
        links["category"] = link(f"{api}/categories/{cat.id}", cat.name)
    else:
        links["category"] = NULL_LINK
    links["type"] = {"href": f"{api}/types/{typ.id}", "title": typ.name}
    links["priority"] = {"href": f"{api}/priorities/{prio.id}", "title": prio.name}
    links["project"] = {"href": f"{api}/projects/{proj.id}", "title": proj.name}
    links["status"] = {"href": f"{api}/statuses/{st.id}", "title": st.name}
    links["author"] = user_link(ctx, wp.author_id)
    links["responsible"] = user_link(ctx, wp.responsible_id)
    links["assignee"] = user_link(ctx, wp.assignee_id)
    if wp.version_id is not None and wp.version_id in store.versions:
        ver = store.versions[wp.version_id]
        links["version"] = link(f"{api}/versions/{ver.id}", ver.name)
    else:
        links["version"] = NULL_LINK
    parent = store.work_packages.get(wp.parent_id) if wp.parent_id is not None else None
    if parent is not None and ctx.can_see_wp(parent):
        links["parent"] = wp_link(ctx, parent)
    else:
        links["parent"] = {"href": None, "title": None}
    actions = list(store.custom_actions.values()) if can_edit else []
    links["customActions"] = [
        {"href": f"{api}/custom_actions/{a.id}", "title": a.name} for a in actions
    ]

    doc: JsonDict = {
        "_type": "WorkPackage",
        "id": wid,
        "lockVersion": wp.lock_version,
        "subject": subject,
        "description": formattable(wp.description),
        "scheduleManually": wp.schedule_manually,
    }
    if typ.is_milestone:
        doc["date"] = wp.start_date
    else:
        doc["startDate"] = wp.start_date
        doc["dueDate"] = wp.due_date
    doc["derivedStartDate"] = None
    doc["derivedDueDate"] = None
    est = fmt_hours(wp.estimated_hours)
    rem = fmt_hours(wp.remaining_hours)
    doc["estimatedTime"] = est
    doc["derivedEstimatedTime"] = est
    doc["remainingTime"] = rem
    doc["derivedRemainingTime"] = rem
    if not typ.is_milestone:
        doc["duration"] = fmt_days(wp.duration)
    doc["ignoreNonWorkingDays"] = wp.ignore_non_working_days
    if VIEW_TIME in perms:
        doc["spentTime"] = "PT0S"
    doc["percentageDone"] = wp.percentage_done
    doc["derivedPercentageDone"] = wp.percentage_done
    doc["createdAt"] = fmt_dt(wp.created_at)
    doc["updatedAt"] = fmt_dt(wp.updated_at)
    for cf in store.custom_fields_for(proj.id, typ.id):
        value = wp.custom_values.get(cf.id)
        if cf.is_link:
            links[cf.key] = cf_link(ctx, cf, value)
        else:
            doc[cf.key] = value
    if embed:
        embedded: JsonDict = {
            "attachments": collection(
                [attachment(ctx, a) for a in store.attachments.values() if a.container_id == wid],
                base + "/attachments",
            ),
            "relations": collection(
                [relation(ctx, r) for r in relations_of(store, wid)], base + "/relations"
            ),
            "type": type_(ctx, typ),
            "priority": priority(ctx, prio),
            "project": project(ctx, proj),
            "status": status(ctx, st),
            "author": user(ctx, store.users[wp.author_id]),
        }
        if VIEW_FILE_LINKS in perms:
            from ._storages import file_link, visible_file_links  # (imports this module)

            embedded["fileLinks"] = collection(
                [file_link(ctx, f) for f in visible_file_links(ctx, wp)], base + "/file_links"
            )
        for key, uid in (("responsible", wp.responsible_id), ("assignee", wp.assignee_id)):
            if uid is not None and uid in store.users:
                embedded[key] = user(ctx, store.users[uid])
        if wp.version_id in store.versions:
            embedded["version"] = version(ctx, store.versions[wp.version_id])
        if wp.category_id in store.categories:
            embedded["category"] = category(ctx, store.categories[wp.category_id])
        if parent is not None and ctx.can_see_wp(parent):
            embedded["parent"] = work_package(ctx, parent)
        embedded["customActions"] = [custom_action(ctx, a) for a in actions]
        doc["_embedded"] = embedded
    doc["_links"] = links
    return doc


# ---------------------------------------------------------------------------------------------
# Activities, relations, attachments


def activity(ctx: Ctx, a: Activity, *, embed: bool = False) -> JsonDict:
    """``ActivityRepresenter``; ``embed`` (single GET/POST/PATCH) adds ``_embedded.workPackage``.

    ``_links.user`` has no ``title``, as on the real server (its representer does not load
    the user): a client that wants the name follows the link.
    """
    wp = ctx.store.work_packages.get(a.work_package_id)
    links: JsonDict = {"self": link(f"{ctx.api}/activities/{a.id}")}
    if wp is not None:
        links["workPackage"] = wp_link(ctx, wp)
    links["user"] = link(f"{ctx.api}/users/{a.user_id}")
    if (
        a.comment
        and a.user_id == ctx.user.id
        and wp is not None
        and ctx.can(ADD_NOTES, wp.project_id)
    ):
        links["update"] = {"href": f"{ctx.api}/activities/{a.id}", "method": "patch"}
    doc: JsonDict = {
        "_type": "Activity::Comment" if a.comment else "Activity",
        "id": a.id,
        "comment": formattable(a.comment),
        "details": [
            {"format": "custom", "raw": d, "html": f"<p>{html.escape(d, quote=False)}</p>"}
            for d in a.details
        ],
        "version": a.version,
        "internal": a.internal,
        "createdAt": fmt_dt(a.created_at),
        "updatedAt": fmt_dt(a.updated_at),
    }
    if embed and wp is not None:
        doc["_embedded"] = {"workPackage": work_package(ctx, wp)}
    doc["_links"] = links
    return doc


def relations_of(store: Store, wp_id: int) -> list[Relation]:
    return [r for r in store.relations.values() if wp_id in (r.from_id, r.to_id)]


def relation(ctx: Ctx, r: Relation, *, embed: bool = False) -> JsonDict:
    """``RelationRepresenter``; ``embed`` (single responses) adds ``_embedded.from``/``to``."""
    store = ctx.store
    reverse, name, _ = RELATION_TYPES[r.type]
    links: JsonDict = {"self": link(f"{ctx.api}/relations/{r.id}")}
    frm = store.work_packages.get(r.from_id)
    if frm is not None and ctx.can(MANAGE_RELATIONS, frm.project_id):
        links["updateImmediately"] = {"href": f"{ctx.api}/relations/{r.id}", "method": "patch"}
        links["delete"] = {
            "href": f"{ctx.api}/relations/{r.id}",
            "method": "delete",
            "title": "Remove relation",
        }
    embedded: JsonDict = {}
    for key, wid in (("from", r.from_id), ("to", r.to_id)):
        target = store.work_packages.get(wid)
        links[key] = wp_link(ctx, target) if target else NULL_LINK
        if embed and target is not None:
            embedded[key] = work_package(ctx, target)
    doc: JsonDict = {
        "_type": "Relation",
        "id": r.id,
        "name": name,
        "type": r.type,
        "reverseType": reverse,
        "lag": r.lag,
        "description": r.description,
    }
    if embedded:
        doc["_embedded"] = embedded
    doc["_links"] = links
    return doc


def attachment(ctx: Ctx, a: Attachment, *, embed: bool = False) -> JsonDict:
    """``AttachmentRepresenter``; ``embed`` (single GET, upload) adds ``_embedded.author``
    and ``_embedded.container`` (when there is one)."""
    links: JsonDict = {"self": link(f"{ctx.api}/attachments/{a.id}", a.file_name)}
    container = ctx.store.work_packages.get(a.container_id)
    links["container"] = wp_link(ctx, container) if container else NULL_LINK
    links["author"] = user_link(ctx, a.author_id)
    links["downloadLocation"] = link(f"{ctx.api}/attachments/{a.id}/content")
    links["staticDownloadLocation"] = link(f"{ctx.api}/attachments/{a.id}/content")
    if container is not None and ctx.can(EDIT_WP, container.project_id):
        links["delete"] = {"href": f"{ctx.api}/attachments/{a.id}", "method": "delete"}
    doc: JsonDict = {
        "_type": "Attachment",
        "id": a.id,
        "fileName": a.file_name,
        "fileSize": len(a.content),
        "description": formattable(a.description, "plain"),
        "status": "uploaded",
        "contentType": a.content_type,
        "digest": {"algorithm": "md5", "hash": a.digest},
        "createdAt": fmt_dt(a.created_at),
    }
    if embed:
        embedded: JsonDict = {}
        author = ctx.store.users.get(a.author_id)
        if author is not None:
            embedded["author"] = user(ctx, author)
        if container is not None:
            embedded["container"] = work_package(ctx, container)
        doc["_embedded"] = embedded
    doc["_links"] = links
    return doc
