"""The demo's project steps: view the work package's project, update it through its form,
read its status.

On the built-in server the update is committed (the server goes away with the demo). On
your server the demo opens the update form and shows what the server says about the
change, but commits nothing: it does not change your project.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .. import Form, Link, OpenProject, Resource
from ._common import StepFailed, link_text, one_line

_NEW_STATUS = {"on_track": "At risk"}  # else: "On track"


class ProjectSteps:
    """Mixed into ``Demo``: the steps of the Projects chapter."""

    op: OpenProject
    builtin: bool
    subject: str
    project: Resource | None = None
    project_href: str | None = None

    def say(self, text: str) -> None:  # pragma: no cover - Demo's
        raise NotImplementedError

    def dump(self, title: str, doc: Any) -> None:  # pragma: no cover - Demo's
        raise NotImplementedError

    def project_steps(self) -> list[tuple[str, str, Callable[[], Awaitable[None]]]]:
        return [
            ("project", "View the work package's project", self.view_project),
            ("project update", "Update the project through its form", self.update_project),
            ("project status", "Read the project's status", self.project_status),
        ]

    async def view_project(self) -> None:
        if not self.project_href:
            raise StepFailed("the work package named no project")
        project = await self.op.get(self.project_href)
        if not isinstance(project, Resource) or project.resource_type != "Project":
            raise StepFailed(f"the project link led to a {getattr(project, 'resource_type', None)}")
        self.project = project
        self.say(
            f"GET {project.href} -> {project.get('name')} ({project.get('identifier')}), "
            f"status {link_text(project.links.get('status'))}"
        )
        offered = [a for a in ("update", "updateImmediately", "delete") if project.can(a)]
        self.say(f"it offers: {', '.join(offered) or 'no write actions to this user'}")
        self.dump("the project", project.data)

    async def update_project(self) -> None:
        assert self.project is not None
        project = self.project
        if not project.can("update"):
            if self.builtin:
                raise StepFailed("the project offers no update link")
            self.say("no update link: this user may not edit the project (skipped)")
            return
        status = project.links.get("status")
        code = status.href.rsplit("/", 1)[-1] if isinstance(status, Link) and status.href else ""
        new_status = _NEW_STATUS.get(code, "On track")
        explanation = f"Set by the {self.subject}"
        form = await project.update(status=new_status, statusExplanation=explanation)
        if not isinstance(form, Form):
            raise StepFailed(f"the update link answered a {form.resource_type}, not a Form")
        if not form.is_valid:
            raise StepFailed(
                "the project's update form has validation errors: "
                + "; ".join(f"{k}: {e.message}" for k, e in form.errors.items())
            )
        commit = form.link("commit")
        assert isinstance(commit, Link)
        self.say(f"POST {form.href} {{status: {new_status}, statusExplanation}} -> a valid form")
        self.dump("the update body", form.body)
        if not self.builtin:
            self.say(f"not committed ({commit.method} {commit.href}): your project stays as it is")
            return
        updated = await form.commit()
        shown = link_text(updated.links.get("status"))
        if shown != new_status or (updated.get("statusExplanation") or {}).get("raw") != (
            explanation
        ):
            raise StepFailed(f"after the update the project's status is {shown}")
        self.say(f'{commit.method} {commit.href} -> status {shown}: "{one_line(explanation)}"')
        self.project = updated

    async def project_status(self) -> None:
        assert self.project is not None
        status_link = self.project.links.get("status")
        if not isinstance(status_link, Link) or status_link.href is None:
            self.say("the project has no status (its status link is null)")
            return
        status = await self.project.follow("status")
        if not isinstance(status, Resource) or status.resource_type != "ProjectStatus":
            raise StepFailed(f"the status link led to a {getattr(status, 'resource_type', None)}")
        self.say(f"GET {status.href} -> ProjectStatus {status.get('id')!r}: {status.get('name')}")
