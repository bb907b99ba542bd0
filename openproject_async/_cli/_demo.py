"""``demo``: the API v3 usage guide, end to end, every step checked.

Without ``--url`` (or ``OPENPROJECT_URL``) the demo starts the in-process fake server on a
free loopback port and stops it at the end. Against a real server it creates one work
package (notifications off), and deletes it again — also when a step fails or the demo
is interrupted; it opens the project's update form but does not commit it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

import orjson

from .. import ApiKey, BearerToken, Collection, Field, Form, Link, OpenProject, Resource
from ..errors import (
    NotFound,
    OpenProjectError,
    SchemaNotLoaded,
    Unauthenticated,
    UpdateConflict,
)
from ._common import (
    Config,
    StepFailed,
    describe,
    json_text,
    link_text,
    one_line,
    write_line,
)
from ._demo_project import ProjectSteps

API = "/api/v3"
_CUSTOM_KEY = re.compile(r"^customField\d+$")
_TEXT_TYPES = ("String", "Text", "Formattable")


def _rank(field: Field) -> int:
    """Which custom field the demo sets by name: a list (option by name) first."""
    base = field.base_type
    if base == "CustomOption" and field.has_allowed_values:
        return 0
    if base in ("Integer", "Float"):
        return 1
    if base in _TEXT_TYPES:
        return 2
    if base == "Boolean":
        return 3
    return 9  # users, versions...: not set by the demo (a user field would notify someone)


def pick_custom_field(form: Form) -> Field | None:
    fields = [
        f
        for f in form.schema.fields.values()
        if _CUSTOM_KEY.match(f.key) and f.writable and _rank(f) < 9
    ]
    return min(fields, key=_rank) if fields else None


async def custom_value(field: Field) -> Any:
    """A value for the custom field: a list option by its name, else a plain value."""
    base = field.base_type
    if base == "CustomOption":
        options = [o for o in await field.allowed_values() if isinstance(o, Resource)]
        names = [str(o.get("value") or o.get("name") or "") for o in options]
        names = [n for n in names if n]
        if not names:
            raise StepFailed(f"custom field {field.name!r} lists no options")
        return [names[0]] if field.is_list else names[0]
    return {"Integer": 3, "Float": 2.5, "Boolean": True}.get(base, "set by openproject-async")


async def filler(field: Field) -> Any:
    """Any acceptable value for a required field the demo did not set itself."""
    if field.has_allowed_values:
        values = await field.allowed_values()
        if values:
            return [values[0]] if field.is_list else values[0]
    base = field.base_type
    samples: dict[str, Any] = {
        "Integer": 1,
        "Float": 1.0,
        "Boolean": False,
        "Date": dt.date.today().isoformat(),
        "Duration": "PT1H",
    }
    if base in samples:
        return samples[base]
    if base in _TEXT_TYPES:
        return "openproject-async demo"
    raise StepFailed(
        f"the required field {field.name} ({field.key}, {field.type}) cannot be filled"
    )


def _matches(actual: Any, expected: Any) -> bool:
    if isinstance(actual, Link):
        return (actual.title or "").casefold() == str(expected).casefold()
    if isinstance(actual, list):
        return isinstance(expected, list) and [_text(a) for a in actual] == [
            str(e) for e in expected
        ]
    if isinstance(actual, dict) and "raw" in actual:
        return bool(actual.get("raw") == expected)
    return bool(actual == expected)


def _text(value: Any) -> str:
    return link_text(value) if isinstance(value, Link) else str(value)


class Demo(ProjectSteps):
    """The walk; ``run()`` returns the exit code."""

    def __init__(
        self,
        op: OpenProject,
        out: TextIO,
        err: TextIO,
        *,
        builtin: bool,
        verbose: bool = False,
        project: str | None = None,
    ) -> None:
        self.op = op
        self.out = out
        self.err = err
        self.builtin = builtin
        self.verbose = verbose
        self.project_name = project
        token = uuid.uuid4().hex[:8]
        self.subject = f"openproject-async demo {token}"
        self.comment = f"Hello from the openproject-async demo ({token})"
        self.root: Resource | None = None
        self.me: Resource | None = None
        self.collection: Collection | None = None
        self.empty_form: Form | None = None
        self.form: Form | None = None
        self.custom: tuple[Field, Any] | None = None
        self.wp: Resource | None = None
        self.stale: Resource | None = None
        self.commit_sent = False
        self.deleted = False

    # -- output ------------------------------------------------------------------------

    def say(self, text: str) -> None:
        write_line(self.out, "    " + text)

    def dump(self, title: str, doc: Any) -> None:
        if self.verbose:
            self.say(title + ":")
            for line in json_text(doc).splitlines():
                write_line(self.out, "      " + line)

    # -- the walk ----------------------------------------------------------------------

    def steps(self) -> list[tuple[str, str, Callable[[], Awaitable[None]]]]:
        return [
            ("unauthenticated", "Without credentials the server refuses", self.unauthenticated),
            ("authenticate", f"Authenticate ({self._auth_kind()})", self.authenticate),
            ("list", "List work packages", self.list_work_packages),
            ("empty form", "Fetch the create form with an empty body", self.fetch_empty_form),
            ("fill form", "Fill the form from the schema's allowed values", self.fill_form),
            ("commit", "Commit the form: create the work package", self.commit),
            ("filter", "Find it again with a subject filter", self.find),
            ("update", "Update it through the update form with lockVersion", self.update),
            ("stale update", "Update the stale copy: 409 UpdateConflict", self.stale_update),
            ("watcher", "Add a watcher", self.add_watcher),
            ("comment", "Add a comment", self.add_comment),
            ("delete", "Delete it", self.delete),
            *self.project_steps(),
        ]

    def _auth_kind(self) -> str:
        auth = self.op.auth
        if isinstance(auth, ApiKey):
            return 'API key as Basic auth, user "apikey"'
        if isinstance(auth, BearerToken):
            return "Bearer token"
        return "no credentials given" if auth is None else type(auth).__name__

    async def run(self) -> int:
        started = time.monotonic()
        where = (
            "the built-in fake OpenProject, started for this demo"
            if self.builtin
            else "your server: the demo creates one work package and deletes it again"
        )
        write_line(self.out, "openproject-async demo: the API v3 usage guide, step by step")
        write_line(self.out, f"server: {self.op.base_url} ({where})")
        write_line(self.out)
        steps = self.steps()
        try:
            for number, (name, title, step) in enumerate(steps, 1):
                write_line(self.out, f"{number:>2}. {title}")
                self.out.flush()
                try:
                    await step()
                except StepFailed as exc:
                    self._failed(number, name, str(exc))
                    return 1
                except OpenProjectError as exc:
                    self._failed(number, name, describe(exc))
                    return 1
        finally:
            await self.cleanup()  # nothing to do when the walk deleted its work package
        elapsed = time.monotonic() - started
        write_line(self.out)
        write_line(
            self.out,
            f"ok: all {len(steps)} steps did what the usage guide says ({elapsed:.2f} s)",
        )
        return 0

    def _failed(self, number: int, name: str, message: str) -> None:
        self.out.flush()
        write_line(self.err, f"error: demo step {number} ({name}) failed: {one_line(message)}")

    async def cleanup(self) -> None:
        """Delete the demo's work package if it exists (found by subject if the answer to
        the create was lost)."""
        if self.deleted or not self.commit_sent:
            return
        hrefs: list[str] = []
        if self.wp is not None and self.wp.href:
            hrefs = [self.wp.href]
        else:
            try:
                found = await self.op.get(f"{API}/work_packages", filters=self._subject_filter())
                if isinstance(found, Collection):
                    hrefs = [e.href for e in found.elements if e.href]
            except OpenProjectError as exc:
                write_line(
                    self.err, f"cleanup: cannot look for the demo work package: {describe(exc)}"
                )
                return
        for href in hrefs:
            try:
                await self.op.request("DELETE", href)
                write_line(self.err, f"cleanup: deleted the demo work package {href}")
            except NotFound:
                pass
            except OpenProjectError as exc:
                write_line(
                    self.err,
                    f"cleanup: could not delete {href} ({describe(exc)}); delete it by hand",
                )
        self.deleted = True

    def _subject_filter(self) -> list[dict[str, Any]]:
        return [{"subject": {"operator": "~", "values": [self.subject]}}]

    # -- the steps ---------------------------------------------------------------------

    async def unauthenticated(self) -> None:
        async with OpenProject(str(self.op.base_url)) as anonymous:
            try:
                answer = await anonymous.get(f"{API}/work_packages")
            except Unauthenticated as exc:
                self.say(
                    f"GET {API}/work_packages without credentials -> {exc.status} "
                    f"Unauthenticated: {one_line(exc.message, 120)}"
                )
                return
            except OpenProjectError as exc:
                if self.builtin:
                    raise
                # a real server may refuse otherwise: 403, or a login page of a proxy
                self.say(f"GET {API}/work_packages without credentials -> {describe(exc)}")
                return
        if self.builtin:
            raise StepFailed(
                "expected 401 Unauthenticated without credentials, got a "
                f"{answer.resource_type or 'document'}"
            )
        self.say(
            "the server answers without credentials: it allows anonymous access "
            "(as community.openproject.org does); the demo goes on with credentials"
        )

    async def authenticate(self) -> None:
        root = await self.op.root()
        if root.resource_type != "Root":
            raise StepFailed(f"{API} answered a {root.resource_type}, expected the Root resource")
        user_link = root.links.get("user")
        if not isinstance(user_link, Link) or not user_link.href:
            raise StepFailed(
                "the API root names no user: the server did not log these credentials in "
                "(pass --api-key or --token, or set OPENPROJECT_API_KEY)"
            )
        me = await root.follow("user")
        if not isinstance(me, Resource) or me.resource_type != "User":
            raise StepFailed(f"the root's user link led to a {getattr(me, 'resource_type', me)}")
        self.root, self.me = root, me
        instance = root.get("instanceName") or "OpenProject"
        version = root.get("coreVersion")
        self.say(
            f"GET {API} -> logged in as {me.get('name')} ({me.get('login') or 'login hidden'})"
            f" on {instance}{' ' + version if version else ''}"
        )

    async def list_work_packages(self) -> None:
        assert self.root is not None
        wps = (
            await self.root.follow("workPackages")
            if self.root.can("workPackages")
            else await self.op.get(f"{API}/work_packages")
        )
        if not isinstance(wps, Collection) or wps.total is None:
            raise StepFailed("GET /api/v3/work_packages did not answer a collection with a total")
        if wps.count != len(wps.elements) or wps.total < wps.count:
            raise StepFailed(
                f"inconsistent collection: total {wps.total}, count {wps.count}, "
                f"{len(wps.elements)} elements"
            )
        self.collection = wps
        self.say(
            f"GET {API}/work_packages -> {wps.total} work packages (the default filter: open "
            f"ones only), {wps.count} on this page (pageSize {wps.page_size})"
        )
        for element in wps.elements[:3]:
            status = link_text(element.links.get("status"))
            self.say(
                f'  #{element.get("id")} "{one_line(str(element.get("subject")), 60)}" [{status}]'
            )

    async def fetch_empty_form(self) -> None:
        assert self.collection is not None
        if not self.collection.can("createWorkPackage"):
            raise StepFailed(
                "the work package collection offers no createWorkPackage link: this user may "
                "not create work packages (the guide: check the permissions)"
            )
        form = await self.collection.action("createWorkPackage")
        if not isinstance(form, Form):
            raise StepFailed(f"the create form link answered {form!r}, not a Form")
        errors = form.errors
        if form.is_valid:
            raise StepFailed("the empty form offers a commit link; the guide says it must not")
        missing = [p for p in ("subject", "project") if p not in errors]
        if missing:
            raise StepFailed(
                f"the empty form has no validation error for {', '.join(missing)} "
                f"(it lists: {', '.join(errors) or 'none'})"
            )
        self.empty_form = form
        self.say(f"POST {form.href} {{}} -> a Form without a commit link; validation errors:")
        for prop, error in errors.items():
            self.say(f"  {prop:<10} {one_line(error.message, 100)}")
        self.dump("validationErrors", form.embedded.get("validationErrors"))

    async def fill_form(self) -> None:
        assert self.empty_form is not None
        form = self.empty_form
        project_field = form.schema["project"]
        if self.project_name:
            project: Any = await project_field.choose(self.project_name)
            project = await self.op.get(project)
            count_text = f"chosen with --project {self.project_name!r}"
        else:
            projects = [p for p in await project_field.allowed_values() if isinstance(p, Resource)]
            if not projects:
                raise StepFailed(
                    "the schema allows no project: this user may create no work package"
                )
            project = projects[0]
            count_text = f"the first of {len(projects)} the schema allows"
        form = await form.validate(subject=self.subject, project=project)
        self.say(f'subject  "{self.subject}"')
        self.say(f"project  {project.get('name')} ({count_text})")
        types = [t for t in await form.schema["type"].allowed_values() if isinstance(t, Resource)]
        if not types:
            raise StepFailed(f"the schema allows no type in project {project.get('name')}")
        chosen: tuple[Resource, Form, Field | None] | None = None
        for candidate in types[:6]:
            typed = await form.validate(type=candidate)
            field = pick_custom_field(typed)
            if field is not None:
                chosen = (candidate, typed, field)
                break
            if chosen is None:
                chosen = (candidate, typed, None)
        assert chosen is not None
        type_, form, field = chosen
        self.say(f"type     {type_.get('name')} (allowed for this project: {len(types)} types)")
        if field is not None:
            value = await custom_value(field)
            form = await form.validate(fields={field.name: value})
            self.custom = (field, value)
            self.say(
                f"{field.name} ({field.key}, a custom field set by its human name) = {value!r}"
            )
        else:
            self.say("(no custom field is configured for this project and type)")
        form = await self._fill_required(form)
        if not form.is_valid or form.errors:
            raise StepFailed(
                "the filled form still has validation errors: "
                + "; ".join(f"{k}: {e.message}" for k, e in form.errors.items())
            )
        commit = form.link("commit")
        assert isinstance(commit, Link)
        self.say(f"-> no validation errors; the form offers commit ({commit.method} {commit.href})")
        self.dump("the body the form validated", form.body)
        self.form = form

    async def _fill_required(self, form: Form) -> Form:
        for _round in range(3):
            errors = form.errors
            if form.is_valid or not errors:
                return form
            values: dict[str, Any] = {}
            for prop in errors:
                field = form.schema.find(prop)
                if field is None:
                    raise StepFailed(
                        f"validation error on {prop!r}, which the schema does not describe"
                    )
                values[field.key] = await filler(field)
                shown = _shown(values[field.key])
                self.say(f"{field.name} ({field.key}) is required here: set to {shown}")
            form = await form.validate(**values)
        return form

    async def commit(self) -> None:
        assert self.form is not None
        self.commit_sent = True
        wp = await self.form.commit(notify=False)
        if not isinstance(wp, Resource) or wp.resource_type != "WorkPackage":
            raise StepFailed(f"the commit answered a {getattr(wp, 'resource_type', wp)}")
        self.wp = wp
        project_link = wp.links.get("project")
        self.project_href = project_link.href if isinstance(project_link, Link) else None
        if wp.get("subject") != self.subject:
            raise StepFailed(f"the new work package's subject is {wp.get('subject')!r}")
        for rel in ("project", "type"):
            sent = self.form.body.get("_links", {}).get(rel, {}).get("href")
            got = wp.links.get(rel)
            if sent and (not isinstance(got, Link) or got.href != sent):
                raise StepFailed(f"{rel} of the new work package is {got}, the form had {sent}")
        if self.custom is not None:
            field, value = self.custom
            await wp.load_schema()
            try:
                actual = wp.field(field.name)
            except SchemaNotLoaded as exc:  # pragma: no cover - load_schema() loaded it
                raise StepFailed(str(exc)) from None
            if not _matches(actual, value):
                raise StepFailed(
                    f"{field.name} of the new work package is {_text(actual)!r}, sent {value!r}"
                )
        commit = self.form.link("commit")
        assert isinstance(commit, Link)
        self.say(
            f"{commit.method} {commit.href} -> created #{wp.get('id')} in "
            f"{link_text(wp.links.get('project'))}, type {link_text(wp.links.get('type'))}, "
            f"lockVersion {wp.get('lockVersion')}"
        )
        self.dump("the work package", wp.data)

    async def find(self) -> None:
        assert self.wp is not None
        assert self.root is not None
        filters = self._subject_filter()
        found = (
            await self.root.follow("workPackages", filters=filters)
            if self.root.can("workPackages")
            else await self.op.get(f"{API}/work_packages", filters=filters)
        )
        if not isinstance(found, Collection):
            raise StepFailed("the filtered request did not answer a collection")
        ids = [e.get("id") for e in found.elements]
        if ids != [self.wp.get("id")]:
            raise StepFailed(
                f"the subject filter found {ids or 'nothing'}, expected [{self.wp.get('id')}]"
            )
        shown = orjson.dumps(filters).decode()
        self.say(f"GET {API}/work_packages?filters={shown}")
        self.say(f"-> #{self.wp.get('id')} (total {found.total})")

    async def update(self) -> None:
        assert self.wp is not None
        wp = self.wp
        new_subject = self.subject + " (updated)"
        form = await wp.update(subject=new_subject)
        lock = wp.get("lockVersion")
        if form.body.get("lockVersion") != lock:
            raise StepFailed(f"the update form was sent without lockVersion {lock}")
        if not form.is_valid:
            raise StepFailed(
                "the update form has validation errors: "
                + "; ".join(f"{k}: {e.message}" for k, e in form.errors.items())
            )
        updated = await form.commit(notify=False)
        if updated.get("subject") != new_subject:
            raise StepFailed(f"after the update the subject is {updated.get('subject')!r}")
        if updated.get("lockVersion") != lock + 1:
            raise StepFailed(
                f"lockVersion went from {lock} to {updated.get('lockVersion')}; the guide says +1"
            )
        commit = form.link("commit")
        assert isinstance(commit, Link)
        self.say(f"POST {form.href} {{lockVersion: {lock}, subject: ...}} -> a valid form")
        self.say(
            f'{commit.method} {commit.href} -> subject "{new_subject}", '
            f"lockVersion {lock} -> {updated.get('lockVersion')}"
        )
        self.dump("the update body", form.body)
        self.stale, self.wp = wp, updated

    async def stale_update(self) -> None:
        assert self.stale is not None
        assert self.wp is not None
        stale_lock = self.stale.get("lockVersion")
        try:
            await self.stale.save(subject=self.subject + " (stale)", notify=False)
        except UpdateConflict as exc:
            if exc.status != 409:
                raise StepFailed(f"UpdateConflict with status {exc.status}, expected 409") from None
            self.say(
                f"update with the stale lockVersion {stale_lock} -> 409 UpdateConflict: "
                f"{one_line(exc.message, 120)}"
            )
        else:
            raise StepFailed(
                f"the update with the stale lockVersion {stale_lock} went through; "
                "the guide says the server answers 409"
            )
        current = await self.wp.refresh()
        if (current.get("subject"), current.get("lockVersion")) != (
            self.wp.get("subject"),
            self.wp.get("lockVersion"),
        ):
            raise StepFailed("the stale update changed the work package after all")
        self.say(f"#{current.get('id')} is unchanged (lockVersion {current.get('lockVersion')})")
        self.wp = current

    async def add_watcher(self) -> None:
        assert self.wp is not None
        assert self.me is not None
        wp = self.wp
        user = self.me
        if self.builtin and wp.can("availableWatchers"):
            candidates = await wp.follow("availableWatchers")
            others = [
                u
                for u in (candidates.elements if isinstance(candidates, Collection) else [])
                if u.get("id") != self.me.get("id")
            ]
            if others:
                user = others[0]
        if not wp.can("addWatcher"):
            raise StepFailed(
                "the work package offers no addWatcher link: this user may not add watchers"
            )
        added = await wp.addWatcher(user=user)
        watchers = await wp.follow("watchers")
        if not isinstance(watchers, Collection):
            raise StepFailed("the watchers link did not lead to a collection")
        ids = [w.get("id") for w in watchers.elements]
        if user.get("id") not in ids:
            raise StepFailed(f"{user.get('name')} is not among the watchers ({ids})")
        who = " (yourself)" if user is self.me else ""
        names = ", ".join(str(w.get("name")) for w in watchers.elements)
        link = wp.link("addWatcher")
        href = link.href if isinstance(link, Link) else "addWatcher"
        self.say(f"POST {href} -> {added.get('name')}{who} watches #{wp.get('id')}")
        self.say(f"watchers now: {names}")

    async def add_comment(self) -> None:
        assert self.wp is not None
        wp = self.wp
        activity = await wp.addComment(comment=self.comment, notify=False)
        activities = await (await wp.refresh()).follow("activities")
        if not isinstance(activities, Collection):
            raise StepFailed("the activities link did not lead to a collection")
        comments = [
            (a.get("comment") or {}).get("raw")
            for a in activities.elements
            if isinstance(a.get("comment"), dict)
        ]
        if self.comment not in comments:
            raise StepFailed("the comment is not among the work package's activities")
        self.say(
            f"POST {link_href(wp, 'addComment')} -> {activity.resource_type} "
            f'#{activity.get("id")}: "{self.comment}"'
        )
        self.say(
            f"the activities of #{wp.get('id')} list it ({len(activities.elements)} activities)"
        )

    async def delete(self) -> None:
        assert self.wp is not None
        current = await self.wp.refresh()
        if not current.can("delete"):
            raise StepFailed("the work package offers no delete link: this user may not delete it")
        href = current.href or ""
        await current.delete()
        self.deleted = True
        try:
            await self.op.get(href)
        except NotFound as exc:
            self.say(f"DELETE {href} -> done; GET {href} -> {exc.status} NotFound")
            return
        raise StepFailed(f"GET {href} after the DELETE still answers the work package")


def link_href(resource: Resource, rel: str) -> str:
    link = resource.links.get(rel)
    return link.href or rel if isinstance(link, Link) else rel


def _shown(value: Any) -> str:
    if isinstance(value, Resource):
        return str(value.get("name") or value.href)
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    return repr(value)


async def run_demo(
    config: Config,
    out: TextIO,
    err: TextIO,
    *,
    local: bool = False,
    verbose: bool = False,
    project: str | None = None,
    seed_size: int = 50,
) -> int:
    """Walk the guide against the configured server, or a built-in one; the exit code."""
    if config.url and not local:
        async with config.session() as op:
            return await Demo(op, out, err, builtin=False, verbose=verbose, project=project).run()
    from ..testing import FakeOpenProject

    async with (
        FakeOpenProject(seed_size=seed_size) as server,
        OpenProject(server.url, api_key=server.api_key) as op,
    ):
        return await Demo(op, out, err, builtin=True, verbose=verbose, project=project).run()
