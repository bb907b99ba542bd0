"""The deterministic seed data set of the fake server (see ``seed``).

Users (login, id): admin 1 "OpenProject Admin" (admin: every permission everywhere),
member 2 "Mia Member", reader 3 "Rick Reader", dana 4 "Dana Developer", quinn 5 "Quinn Tester".
Roles: 1 Project admin (all), 2 Developer (all but deleting work packages and editing the
project), 3 Reader (view work packages, watchers and file links only).

Projects (id, identifier, types, members):

* 1 ``demo`` "Demo project" -- all types; member/dana/quinn Developer, reader Reader;
  status on track
* 2 ``scrum`` "Scrum project" -- Task, Feature, Bug; member Developer, dana Project admin;
  status at risk; created a day after demo
* 3 ``secret`` "Secret project" -- Task, Milestone; dana Developer (invisible to member
  and reader: 404); a subproject of scrum; status off track; created a day after scrum

Only admins and Project admins may edit a project (``edit_project``); only admins delete
or create projects. Storage 1 "Team files" (Nextcloud) is enabled in demo and scrum: work
packages there take file links (no file links are seeded).

Statuses: 1 New (default), 2 In progress, 3 On hold, 4 Closed*, 5 Rejected* (* closed).
Types: 1 Task (default), 2 Milestone (milestone), 3 Phase, 4 Feature, 5 Bug.
Priorities: 1 Low, 2 Normal (default), 3 High, 4 Immediate.
Categories: 1 Backend, 2 Frontend (demo), 3 Documentation (scrum).
Versions: 1 "1.0" (demo, closed), 2 "2.0" (demo), 3 "Sprint 1" (scrum).

Custom fields (schemas differ per ``{projectId}-{typeId}``):

* ``customField1`` "Story points" -- integer (at most 3 characters), scalar; demo and
  scrum x Task, Feature, Bug
* ``customField2`` "Customer" -- list, required, link-valued (``/api/v3/custom_options/1..3``:
  ACME Corp, Globex, Initech); demo and scrum x Feature, Bug
* ``customField3`` "Reviewer" -- user, link-valued; demo x Task, Phase, Feature, Bug and
  scrum x Bug

Custom actions: 1 "Reset" (status New, no assignee), 2 "Close" (status Closed).

Work package ``i`` (1..seed_size): blocks of ten ids share a project, cycling
demo, demo, scrum, secret (1-20 demo, 21-30 scrum, 31-40 secret, 41-60 demo, ...); type
cycles through the project's types; status by ``i % 10`` in (New, In progress, New,
On hold, New, Closed, Rejected, New, In progress, Closed), so 70 % are open; in every
block the 2nd and 3rd are children of the 1st and the 4th is a child of the 3rd.
API keys, API tokens and the OAuth app are derived from ``key_seed`` (fixed by default).
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from ._data import (
    ALL_PERMISSIONS,
    DELETE_WP,
    EDIT_PROJECT,
    EPOCH,
    VIEW_FILE_LINKS,
    VIEW_WATCHERS,
    VIEW_WP,
    Category,
    CustomAction,
    CustomField,
    CustomOption,
    OAuthApp,
    Priority,
    Project,
    Role,
    Status,
    Storage,
    Store,
    Type,
    User,
    Version,
    WorkPackage,
)

# ---------------------------------------------------------------------------------------------
# Seed data

_VERBS = (
    "Implement",
    "Fix",
    "Review",
    "Document",
    "Refactor",
    "Test",
    "Design",
    "Deploy",
    "Investigate",
    "Plan",
    "Migrate",
)
_NOUNS = (
    "login page",
    "API client",
    "search index",
    "export",
    "dashboard",
    "billing",
    "notifications",
    "timeline",
    "backup job",
    "permissions",
    "importer",
    "mobile view",
    "release notes",
)

DEVELOPER = frozenset(ALL_PERMISSIONS - {DELETE_WP, EDIT_PROJECT})
READER = frozenset({VIEW_WP, VIEW_WATCHERS, VIEW_FILE_LINKS})


def seed(store: Store, seed_size: int, *, key_seed: int = 0) -> None:
    """Fill ``store`` with the reference data set (deterministic for a given ``seed_size``)."""
    store.statuses = {
        1: Status(1, "New", False, True, "#1A67A3", 1, 0),
        2: Status(2, "In progress", False, False, "#CC5DE8", 2, 50),
        3: Status(3, "On hold", False, False, "#F59F00", 3, 0),
        4: Status(4, "Closed", True, False, "#868E96", 4, 100),
        5: Status(5, "Rejected", True, False, "#E03131", 5, 0),
    }
    store.types = {
        1: Type(1, "Task", "#1A67A3", 1, True, False),
        2: Type(2, "Milestone", "#35C53F", 2, True, True),
        3: Type(3, "Phase", "#E8590C", 3, False, False),
        4: Type(4, "Feature", "#1098AD", 4, False, False),
        5: Type(5, "Bug", "#C92A2A", 5, False, False),
    }
    store.priorities = {
        1: Priority(1, "Low", 1, "#C5F6FA", False),
        2: Priority(2, "Normal", 2, "#74C0FC", True),
        3: Priority(3, "High", 3, "#F59F00", False),
        4: Priority(4, "Immediate", 4, "#E03131", False),
    }
    store.roles = {
        1: Role(1, "Project admin", ALL_PERMISSIONS),
        2: Role(2, "Developer", DEVELOPER),
        3: Role(3, "Reader", READER),
    }
    store.users = {
        1: User(1, "admin", "OpenProject", "Admin", "admin@example.net", admin=True),
        2: User(2, "member", "Mia", "Member", "mia@example.net"),
        3: User(3, "reader", "Rick", "Reader", "rick@example.net"),
        4: User(4, "dana", "Dana", "Developer", "dana@example.net"),
        5: User(5, "quinn", "Quinn", "Tester", "quinn@example.net"),
    }
    store.projects = {
        1: Project(
            1,
            "demo",
            "Demo project",
            "The project **everyone** works in.",
            [1, 2, 3, 4, 5],
            {2: 2, 3: 3, 4: 2, 5: 2},
            public=False,
            status_code="on_track",
            status_explanation="Everything **fine**.",
            storage_ids=[1],
        ),
        2: Project(
            2,
            "scrum",
            "Scrum project",
            "Sprints and backlogs.",
            [1, 4, 5],
            {2: 2, 4: 1},
            created_at=EPOCH + timedelta(days=1),
            updated_at=EPOCH + timedelta(days=1),
            status_code="at_risk",
            status_explanation="The sprint is behind schedule.",
            storage_ids=[1],
        ),
        3: Project(
            3,
            "secret",
            "Secret project",
            "Only a few may see this.",
            [1, 2],
            {4: 2},
            created_at=EPOCH + timedelta(days=2),
            updated_at=EPOCH + timedelta(days=2),
            parent_id=2,
            status_code="off_track",
        ),
    }
    store.storages = {1: Storage(1, "Team files", "https://nextcloud.example.net")}
    store.categories = {
        1: Category(1, 1, "Backend", 4),
        2: Category(2, 1, "Frontend"),
        3: Category(3, 2, "Documentation"),
    }
    store.versions = {
        1: Version(1, 1, "1.0", "closed", "2025-01-06", "2025-03-31"),
        2: Version(2, 1, "2.0", "open", "2025-04-01", "2025-09-30"),
        3: Version(3, 2, "Sprint 1", "open", "2025-05-05", "2025-05-16"),
    }
    store.custom_options = {
        1: CustomOption(1, 2, "ACME Corp", 1),
        2: CustomOption(2, 2, "Globex", 2),
        3: CustomOption(3, 2, "Initech", 3),
    }
    store.custom_fields = {
        1: CustomField(
            1,
            "Story points",
            "int",
            False,
            {(p, t) for p in (1, 2) for t in (1, 4, 5)},
            max_length=3,
        ),
        2: CustomField(
            2,
            "Customer",
            "list",
            True,
            {(p, t) for p in (1, 2) for t in (4, 5)},
            option_ids=[1, 2, 3],
        ),
        3: CustomField(3, "Reviewer", "user", False, {(1, 1), (1, 3), (1, 4), (1, 5), (2, 5)}),
    }
    store.custom_actions = {
        1: CustomAction(
            1, "Reset", "Resets status and assignee", {"status_id": 1, "assignee_id": None}
        ),
        2: CustomAction(2, "Close", "Closes the work package", {"status_id": 4}),
    }
    for kind, table in (
        ("status", store.statuses),
        ("type", store.types),
        ("priority", store.priorities),
        ("user", store.users),
        ("project", store.projects),
        ("storage", store.storages),
        ("category", store.categories),
        ("version", store.versions),
        ("custom_option", store.custom_options),
        ("custom_field", store.custom_fields),
        ("custom_action", store.custom_actions),
    ):
        store.bump_id(kind, max(table))

    # credentials: deterministic for a given key_seed, so a subprocess can print them
    for user in store.users.values():
        basis = f"openproject-fake-{key_seed}-{user.login}".encode()
        store.api_keys[hashlib.sha256(basis).hexdigest()] = user.id
        token = "opapi-" + hashlib.sha256(basis + b"-token").hexdigest()[:40]
        store.api_tokens[token] = user.id
    app_basis = f"openproject-fake-{key_seed}-oauth".encode()
    client_id = hashlib.sha256(app_basis + b"-id").hexdigest()[:43]
    client_secret = hashlib.sha256(app_basis + b"-secret").hexdigest()[:43]
    store.oauth_apps[client_id] = OAuthApp(client_id, client_secret, user_id=1)

    _seed_work_packages(store, seed_size)


def _seed_work_packages(store: Store, n: int) -> None:
    project_cycle = (1, 1, 2, 3)
    assignees = {1: (2, 4, 5), 2: (2, 4), 3: (4,)}
    statuses = (1, 2, 1, 3, 1, 4, 5, 1, 2, 4)
    priorities = (2, 2, 3, 1, 2, 4, 2, 3)
    cf_by_combo: dict[tuple[int, int], list[CustomField]] = {}
    types = store.types
    wps = store.work_packages
    children = store.children
    base_day = date(2025, 1, 6)
    day_names = [(base_day + timedelta(days=d)).isoformat() for d in range(210)]
    hour = timedelta(hours=1)
    minute = timedelta(minutes=1)
    for i in range(1, n + 1):
        block, k = divmod(i - 1, 10)
        k += 1
        project_id = project_cycle[block % 4]
        project_types = store.projects[project_id].type_ids
        type_id = project_types[i % len(project_types)]
        is_milestone = types[type_id].is_milestone
        members = assignees[project_id]
        start: str | None = None
        due: str | None = None
        if i % 7:
            offset = i % 200
            start = day_names[offset]
            due = start if is_milestone else day_names[offset + i % 10]
        created = EPOCH + minute * i
        parent_id: int | None = None
        if k in (2, 3):
            parent_id = block * 10 + 1
        elif k == 4:
            parent_id = block * 10 + 3
        author_id = 1 if i % 3 == 0 else members[i % len(members)]
        wp = WorkPackage(
            id=i,
            project_id=project_id,
            type_id=type_id,
            subject=f"{_VERBS[i % len(_VERBS)]} {_NOUNS[i % len(_NOUNS)]} #{i}",
            status_id=statuses[i % 10],
            priority_id=priorities[i % 8],
            author_id=author_id,
            assignee_id=None if i % 4 == 0 else members[i % len(members)],
            parent_id=parent_id,
            description=f"Seeded work package **{i}**." if i % 2 else "",
            start_date=start,
            due_date=due,
            duration=None if start is None or is_milestone else (i % 10) + 1,
            estimated_hours=None if i % 5 == 0 or is_milestone else float(i % 16 + 1),
            percentage_done=None if is_milestone else min(100, (i * 10) % 110),
            created_at=created,
            updated_at=created + hour * (i % 97),
            watcher_ids=[author_id],
        )
        if project_id == 1 and i % 6 in (1, 2):
            wp.version_id = 1 if i % 6 == 1 else 2
            wp.category_id = 1 if i % 5 < 3 else 2
        elif project_id == 2 and i % 4 == 1:
            wp.version_id = 3
            wp.category_id = 3
        combo = (project_id, type_id)
        cfs = cf_by_combo.get(combo)
        if cfs is None:
            cfs = cf_by_combo[combo] = store.custom_fields_for(project_id, type_id)
        if cfs:
            values = wp.custom_values
            for cf in cfs:
                if cf.field_format == "int":
                    values[cf.id] = i % 13
                elif cf.field_format == "list":
                    values[cf.id] = cf.option_ids[i % len(cf.option_ids)]
                elif i % 3 == 0:
                    values[cf.id] = 2
        wps[i] = wp
        if parent_id is not None:
            children.setdefault(parent_id, []).append(i)
    store.bump_id("work_package", n)
