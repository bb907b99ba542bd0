"""The entities of the fake server's store: permissions, plain dataclasses and constants.

``_data`` re-exports every name here together with the ``Store`` that holds them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# ---------------------------------------------------------------------------------------------
# Permissions (names as in OpenProject)

VIEW_WP = "view_work_packages"
ADD_WP = "add_work_packages"
EDIT_WP = "edit_work_packages"
DELETE_WP = "delete_work_packages"
ADD_NOTES = "add_work_package_notes"
VIEW_WATCHERS = "view_work_package_watchers"
ADD_WATCHERS = "add_work_package_watchers"
DELETE_WATCHERS = "delete_work_package_watchers"
MANAGE_RELATIONS = "manage_work_package_relations"
MANAGE_SUBTASKS = "manage_subtasks"
ASSIGN_VERSIONS = "assign_versions"
LOG_TIME = "log_time"
VIEW_TIME = "view_time_entries"
MOVE_WP = "move_work_packages"
COPY_WP = "copy_work_packages"
WORK_ON_WP = "work_package_assigned"
EDIT_PROJECT = "edit_project"
VIEW_FILE_LINKS = "view_file_links"
MANAGE_FILE_LINKS = "manage_file_links"
VIEW_CHANGESETS = "view_changesets"

ALL_PERMISSIONS = frozenset(
    {
        VIEW_WP,
        ADD_WP,
        EDIT_WP,
        DELETE_WP,
        ADD_NOTES,
        VIEW_WATCHERS,
        ADD_WATCHERS,
        DELETE_WATCHERS,
        MANAGE_RELATIONS,
        MANAGE_SUBTASKS,
        ASSIGN_VERSIONS,
        LOG_TIME,
        VIEW_TIME,
        MOVE_WP,
        COPY_WP,
        WORK_ON_WP,
        EDIT_PROJECT,
        VIEW_FILE_LINKS,
        MANAGE_FILE_LINKS,
        VIEW_CHANGESETS,
    }
)
NO_PERMISSIONS: frozenset[str] = frozenset()

EPOCH = datetime(2025, 1, 6, 8, 0, 0, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# Entities


@dataclass(slots=True)
class Status:
    id: int
    name: str
    is_closed: bool
    is_default: bool
    color: str
    position: int
    default_done_ratio: int = 0
    is_readonly: bool = False


@dataclass(slots=True)
class Type:
    id: int
    name: str
    color: str
    position: int
    is_default: bool
    is_milestone: bool


@dataclass(slots=True)
class Priority:
    id: int
    name: str
    position: int
    color: str
    is_default: bool
    is_active: bool = True


@dataclass(slots=True)
class Role:
    id: int
    name: str
    permissions: frozenset[str]


@dataclass(slots=True)
class User:
    id: int
    login: str
    first_name: str
    last_name: str
    email: str
    admin: bool = False
    status: str = "active"
    created_at: datetime = EPOCH

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(slots=True)
class Project:
    id: int
    identifier: str
    name: str
    description: str
    type_ids: list[int]
    members: dict[int, int]  # user id -> role id
    public: bool = False
    active: bool = True
    created_at: datetime = EPOCH
    updated_at: datetime = EPOCH
    parent_id: int | None = None
    status_code: str | None = None  # a key of PROJECT_STATUSES, or None (no status)
    status_explanation: str = ""
    storage_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Category:
    id: int
    project_id: int
    name: str
    default_assignee_id: int | None = None


@dataclass(slots=True)
class Version:
    id: int
    project_id: int
    name: str
    status: str = "open"
    start_date: str | None = None
    end_date: str | None = None
    description: str = ""


@dataclass(slots=True)
class CustomOption:
    id: int
    custom_field_id: int
    value: str
    position: int


@dataclass(slots=True)
class CustomField:
    """``field_format``: ``int`` (scalar), ``list`` (CustomOption links), ``user`` (User links)."""

    id: int
    name: str
    field_format: str
    is_required: bool
    enabled_for: set[tuple[int, int]]  # (project id, type id)
    option_ids: list[int] = field(default_factory=list)
    max_length: int | None = None

    @property
    def key(self) -> str:
        return f"customField{self.id}"

    @property
    def is_link(self) -> bool:
        return self.field_format in ("list", "user")


@dataclass(slots=True)
class WorkPackage:
    """A stored work package; the ``*_id`` fields reference the store's other entities.

    ``custom_values`` maps a custom field id to its value; ``lock_version`` is the API's
    ``lockVersion``. Handlers render it per request, so changes show at once.
    """

    id: int
    project_id: int
    type_id: int
    subject: str
    status_id: int = 1
    priority_id: int = 2
    author_id: int = 1
    assignee_id: int | None = None
    responsible_id: int | None = None
    version_id: int | None = None
    category_id: int | None = None
    parent_id: int | None = None
    description: str = ""
    schedule_manually: bool = False
    start_date: str | None = None
    due_date: str | None = None
    duration: int | None = None
    estimated_hours: float | None = None
    remaining_hours: float | None = None
    percentage_done: int | None = None
    ignore_non_working_days: bool = False
    lock_version: int = 0
    created_at: datetime = EPOCH
    updated_at: datetime = EPOCH
    custom_values: dict[int, Any] = field(default_factory=dict)
    watcher_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Activity:
    id: int
    work_package_id: int
    user_id: int
    version: int
    comment: str
    details: list[str]
    internal: bool
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class Relation:
    id: int
    from_id: int
    to_id: int
    type: str
    lag: int | None
    description: str | None


@dataclass(slots=True)
class Attachment:
    id: int
    container_id: int
    file_name: str
    content_type: str
    content: bytes
    description: str
    author_id: int
    created_at: datetime

    @property
    def digest(self) -> str:
        return hashlib.md5(self.content, usedforsecurity=False).hexdigest()


@dataclass(slots=True)
class CustomAction:
    """``changes``: status_id / assignee_id / priority_id -> new value (None = unset)."""

    id: int
    name: str
    description: str
    changes: dict[str, int | None]


@dataclass(slots=True)
class OAuthApp:
    client_id: str
    client_secret: str
    user_id: int
    scopes: str = "api_v3"


@dataclass(slots=True)
class OAuthToken:
    token: str
    user_id: int
    scope: str
    created_at: float  # epoch seconds
    expires_in: int


@dataclass(slots=True)
class Storage:
    id: int
    name: str
    host: str
    created_at: datetime = EPOCH


@dataclass(slots=True)
class FileLink:
    id: int
    storage_id: int
    container_id: int  # a work package id
    creator_id: int
    origin_id: str
    origin_name: str
    origin_mime_type: str | None
    origin_created_by_name: str | None
    origin_last_modified_by_name: str | None
    origin_created_at: str | None
    origin_updated_at: str | None
    created_at: datetime


PROJECT_STATUSES: dict[str, str] = {
    # ``Project.status_codes`` -> name
    "not_started": "Not started",
    "on_track": "On track",
    "at_risk": "At risk",
    "off_track": "Off track",
    "finished": "Finished",
    "discontinued": "Discontinued",
}

RELATION_TYPES: dict[str, tuple[str, str, str]] = {
    # type -> (reverse type, name, reverse name)
    "relates": ("relates", "related to", "related to"),
    "duplicates": ("duplicated", "duplicates", "duplicated by"),
    "duplicated": ("duplicates", "duplicated by", "duplicates"),
    "blocks": ("blocked", "blocks", "blocked by"),
    "blocked": ("blocks", "blocked by", "blocks"),
    "precedes": ("follows", "precedes", "follows"),
    "follows": ("precedes", "follows", "precedes"),
    "includes": ("partof", "includes", "part of"),
    "partof": ("includes", "part of", "includes"),
    "requires": ("required", "requires", "required by"),
    "required": ("requires", "required by", "requires"),
}
