"""The in-memory store of the fake server and its deterministic seed data.

Everything here is plain dataclasses and dicts, so tests can inspect and mutate
``server.store`` directly. No HTTP and no rendering happens in this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from ._model import (
    ADD_NOTES,
    ADD_WATCHERS,
    ADD_WP,
    ALL_PERMISSIONS,
    ASSIGN_VERSIONS,
    COPY_WP,
    DELETE_WATCHERS,
    DELETE_WP,
    EDIT_PROJECT,
    EDIT_WP,
    EPOCH,
    LOG_TIME,
    MANAGE_FILE_LINKS,
    MANAGE_RELATIONS,
    MANAGE_SUBTASKS,
    MOVE_WP,
    NO_PERMISSIONS,
    PROJECT_STATUSES,
    RELATION_TYPES,
    VIEW_CHANGESETS,
    VIEW_FILE_LINKS,
    VIEW_TIME,
    VIEW_WATCHERS,
    VIEW_WP,
    WORK_ON_WP,
    Activity,
    Attachment,
    Category,
    CustomAction,
    CustomField,
    CustomOption,
    FileLink,
    OAuthApp,
    OAuthToken,
    Priority,
    Project,
    Relation,
    Role,
    Status,
    Storage,
    Type,
    User,
    Version,
    WorkPackage,
    utcnow,
)

__all__ = [
    "ADD_NOTES",
    "ADD_WATCHERS",
    "ADD_WP",
    "ALL_PERMISSIONS",
    "ASSIGN_VERSIONS",
    "COPY_WP",
    "DELETE_WATCHERS",
    "DELETE_WP",
    "EDIT_PROJECT",
    "EDIT_WP",
    "EPOCH",
    "LOG_TIME",
    "MANAGE_FILE_LINKS",
    "MANAGE_RELATIONS",
    "MANAGE_SUBTASKS",
    "MOVE_WP",
    "NO_PERMISSIONS",
    "PROJECT_STATUSES",
    "RELATION_TYPES",
    "VIEW_CHANGESETS",
    "VIEW_FILE_LINKS",
    "VIEW_TIME",
    "VIEW_WATCHERS",
    "VIEW_WP",
    "WORK_ON_WP",
    "Activity",
    "Attachment",
    "Category",
    "CustomAction",
    "CustomField",
    "CustomOption",
    "FileLink",
    "OAuthApp",
    "OAuthToken",
    "Priority",
    "Project",
    "Relation",
    "Role",
    "Status",
    "Storage",
    "Store",
    "Type",
    "User",
    "Version",
    "WorkPackage",
    "utcnow",
]

# ---------------------------------------------------------------------------------------------
# The store


class Store:
    """All server state. Ids are allocated from per-kind counters (never reused)."""

    def __init__(self) -> None:
        self.statuses: dict[int, Status] = {}
        self.types: dict[int, Type] = {}
        self.priorities: dict[int, Priority] = {}
        self.roles: dict[int, Role] = {}
        self.users: dict[int, User] = {}
        self.projects: dict[int, Project] = {}
        self.categories: dict[int, Category] = {}
        self.versions: dict[int, Version] = {}
        self.custom_fields: dict[int, CustomField] = {}
        self.custom_options: dict[int, CustomOption] = {}
        self.custom_actions: dict[int, CustomAction] = {}
        self.work_packages: dict[int, WorkPackage] = {}
        self.children: dict[int, list[int]] = {}
        self.journals: dict[int, list[Activity]] = {}
        self.activities: dict[int, Activity] = {}
        self.relations: dict[int, Relation] = {}
        self.attachments: dict[int, Attachment] = {}
        self.storages: dict[int, Storage] = {}
        self.file_links: dict[int, FileLink] = {}
        self.api_keys: dict[str, int] = {}  # key -> user id
        self.api_tokens: dict[str, int] = {}  # opapi-... -> user id
        self.oauth_apps: dict[str, OAuthApp] = {}
        self.oauth_tokens: dict[str, OAuthToken] = {}
        self.notifications_sent = 0
        self.notifications_suppressed = 0
        # the object storage of direct uploads and content redirects (_storage.FakeStorage)
        self.storage: Any = None
        self._next: dict[str, int] = {}

    # -- ids ---------------------------------------------------------------------------------

    def next_id(self, kind: str) -> int:
        """Allocate the next id of ``kind`` (``"work_package"``, ``"activity"``...)."""
        value = self._next.get(kind, 0) + 1
        self._next[kind] = value
        return value

    def bump_id(self, kind: str, at_least: int) -> None:
        """Make ``next_id(kind)`` answer more than ``at_least`` (after storing an explicit id)."""
        self._next[kind] = max(self._next.get(kind, 0), at_least)

    # -- lookups -----------------------------------------------------------------------------

    def user_by_login(self, login: str) -> User:
        """The user with ``login`` (KeyError if there is none)."""
        for user in self.users.values():
            if user.login == login:
                return user
        raise KeyError(login)

    def project_by_ref(self, ref: str) -> Project | None:
        """A project by id or by identifier (both are accepted in URLs)."""
        if ref.isdigit():
            return self.projects.get(int(ref))
        for project in self.projects.values():
            if project.identifier == ref:
                return project
        return None

    def default_status(self) -> Status:
        """The status new work packages get (``is_default``)."""
        return next(s for s in self.statuses.values() if s.is_default)

    def default_priority(self) -> Priority:
        """The priority new work packages get (``is_default``)."""
        return next(p for p in self.priorities.values() if p.is_default)

    def open_status_ids(self) -> frozenset[int]:
        """Ids of the statuses that are not closed (the ``o``/``c`` status filter operators)."""
        return frozenset(s.id for s in self.statuses.values() if not s.is_closed)

    def custom_fields_for(self, project_id: int | None, type_id: int | None) -> list[CustomField]:
        """The custom fields enabled for this project and type ([] when either is None)."""
        if project_id is None or type_id is None:
            return []
        combo = (project_id, type_id)
        return [cf for cf in self.custom_fields.values() if combo in cf.enabled_for]

    # -- permissions -------------------------------------------------------------------------

    def permissions(self, user: User, project_id: int) -> frozenset[str]:
        """The user's permissions in a project.

        All for admins, the member role's otherwise; none for non-members and in unknown or
        archived (inactive) projects.
        """
        project = self.projects.get(project_id)
        if project is None or not project.active:
            return NO_PERMISSIONS
        if user.admin:
            return ALL_PERMISSIONS
        role_id = project.members.get(user.id)
        if role_id is None:
            return NO_PERMISSIONS
        return self.roles[role_id].permissions

    def allowed(self, user: User, permission: str, project_id: int) -> bool:
        """Whether ``user`` has ``permission`` in the project."""
        return permission in self.permissions(user, project_id)

    def visible_project_ids(self, user: User) -> set[int]:
        """Ids of the projects whose work packages ``user`` may see (``view_work_packages``)."""
        return {p for p in self.projects if VIEW_WP in self.permissions(user, p)}

    def projects_allowing(self, user: User, permission: str) -> list[Project]:
        """The projects in which ``user`` has ``permission``."""
        return [p for p in self.projects.values() if self.allowed(user, permission, p.id)]

    def assignable_user_ids(self, project_id: int) -> list[int]:
        """Active members whose role may be assigned work (``work_package_assigned``), sorted."""
        project = self.projects.get(project_id)
        if project is None:
            return []
        return sorted(
            uid
            for uid, role_id in project.members.items()
            if WORK_ON_WP in self.roles[role_id].permissions and self.users[uid].status == "active"
        )

    def member_user_ids(self, project_id: int) -> list[int]:
        """Ids of the project's members, sorted ([] for an unknown project)."""
        project = self.projects.get(project_id)
        return sorted(project.members) if project else []

    # -- work package tree -------------------------------------------------------------------

    def children_of(self, wp_id: int) -> list[int]:
        """Ids of the direct children of a work package (the live list; [] when none)."""
        return self.children.get(wp_id, [])

    def ancestors_of(self, wp: WorkPackage) -> list[WorkPackage]:
        """The parent chain of ``wp``, root first (stops at a missing parent or a cycle)."""
        result: list[WorkPackage] = []
        parent_id = wp.parent_id
        seen = {wp.id}
        while parent_id is not None and parent_id not in seen:
            parent = self.work_packages.get(parent_id)
            if parent is None:
                break
            result.append(parent)
            seen.add(parent_id)
            parent_id = parent.parent_id
        result.reverse()
        return result

    def set_parent(self, wp: WorkPackage, parent_id: int | None) -> None:
        """Move ``wp`` under ``parent_id`` (None: top level), keeping ``children`` in step.

        No checks (cycles, permissions) and no ``lock_version`` change.
        """
        if wp.parent_id is not None:
            siblings = self.children.get(wp.parent_id)
            if siblings and wp.id in siblings:
                siblings.remove(wp.id)
                if not siblings:
                    del self.children[wp.parent_id]
        wp.parent_id = parent_id
        if parent_id is not None:
            self.children.setdefault(parent_id, []).append(wp.id)

    # -- work package mutation (used by handlers and by the FakeOpenProject helpers) ----------

    def add_work_package(self, wp: WorkPackage) -> WorkPackage:
        """Store ``wp`` and return it; an id <= 0 gets a new one.

        It is put under its ``parent_id`` and gets its creation journal.
        """
        if wp.id <= 0:
            wp.id = self.next_id("work_package")
        else:
            self.bump_id("work_package", wp.id)
        parent_id, wp.parent_id = wp.parent_id, None
        self.work_packages[wp.id] = wp
        if parent_id is not None:
            self.set_parent(wp, parent_id)
        self.journals_of(wp)
        return wp

    def remove_project(self, project_id: int) -> list[int]:
        """Delete a project with its subprojects, work packages, categories and versions
        (what the real server's background deletion job does); returns the deleted ids."""
        doomed = [project_id]
        for pid in doomed:
            doomed.extend(p.id for p in self.projects.values() if p.parent_id == pid)
        gone = set(doomed)
        for wp_id in [w.id for w in self.work_packages.values() if w.project_id in gone]:
            self.remove_work_package(wp_id)
        for table in (self.categories, self.versions):
            for key in [k for k, v in table.items() if v.project_id in gone]:
                del table[key]
        for pid in doomed:
            self.projects.pop(pid, None)
        return doomed

    def remove_work_package(self, wp_id: int) -> WorkPackage | None:
        """Delete a work package; returns it, or None if there was none.

        Its relations, attachments and journals go too; its children become top-level.
        """
        wp = self.work_packages.pop(wp_id, None)
        if wp is None:
            return None
        self.set_parent(wp, None)
        for child_id in list(self.children.pop(wp_id, [])):
            child = self.work_packages.get(child_id)
            if child is not None:
                child.parent_id = None
        for rel_id in [r.id for r in self.relations.values() if wp_id in (r.from_id, r.to_id)]:
            del self.relations[rel_id]
        for att_id in [a.id for a in self.attachments.values() if a.container_id == wp_id]:
            del self.attachments[att_id]
        for link_id in [f.id for f in self.file_links.values() if f.container_id == wp_id]:
            del self.file_links[link_id]
        for journal in self.journals.pop(wp_id, []):
            self.activities.pop(journal.id, None)
        return wp

    def touch(self, wp: WorkPackage, at: datetime | None = None) -> None:
        """Record a change: bump ``lock_version`` and move ``updated_at`` forward.

        To ``at`` (default: now), or just past the old value if that is not later.
        """
        wp.lock_version += 1
        now = at or utcnow()
        # keep updatedAt strictly increasing even within one clock tick
        wp.updated_at = now if now > wp.updated_at else wp.updated_at + timedelta(microseconds=1000)

    # -- journals ----------------------------------------------------------------------------

    def journals_of(self, wp: WorkPackage) -> list[Activity]:
        """The journals of ``wp``; seeded work packages get their creation journal lazily."""
        journals = self.journals.get(wp.id)
        if journals is None:
            journals = self.journals[wp.id] = []
            self._append_journal(journals, wp.id, wp.author_id, "", [], False, wp.created_at)
        return journals

    def journal(
        self,
        wp: WorkPackage,
        user_id: int,
        *,
        comment: str,
        details: list[str],
        internal: bool = False,
        at: datetime | None = None,
    ) -> Activity:
        """Append an activity (``comment`` and change ``details``) to ``wp``; returns it.

        A comment also moves the work package's ``updated_at`` (not ``lock_version``).
        """
        journals = self.journals_of(wp)
        when = at or utcnow()
        if comment:
            # as the real server (Journals::CreateService#touch_journable): a comment sets
            # the work package's updatedAt to its own time, lockVersion unchanged
            if when <= wp.updated_at:
                when = wp.updated_at + timedelta(microseconds=1000)
            wp.updated_at = when
        return self._append_journal(journals, wp.id, user_id, comment, details, internal, when)

    def _append_journal(
        self,
        journals: list[Activity],
        wp_id: int,
        user_id: int,
        comment: str,
        details: list[str],
        internal: bool,
        when: datetime,
    ) -> Activity:
        activity = Activity(
            id=self.next_id("activity"),
            work_package_id=wp_id,
            user_id=user_id,
            version=len(journals) + 1,
            comment=comment,
            details=details,
            internal=internal,
            created_at=when,
            updated_at=when,
        )
        journals.append(activity)
        self.activities[activity.id] = activity
        return activity

    # -- iteration ---------------------------------------------------------------------------

    def iter_work_packages(self) -> Iterator[WorkPackage]:
        """Every stored work package, in insertion order."""
        return iter(self.work_packages.values())
